using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using LifelongMoE.Actors.Messages;

namespace LifelongMoE.Actors.Experts;

/// <summary>
/// Routes <see cref="IExpertMessage"/>s to expert entities by id, spreading ids over a fixed number of shards.
/// </summary>
public sealed class ExpertMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string? EntityId(object message) => message switch
    {
        IExpertMessage m => m.ExpertId,
        _ => null,
    };
}

public static class ExpertSharding
{
    public const string TypeName = "expert";
    public const string Dispatcher = "torch-dispatcher";

    /// <summary>
    /// Starts (or joins) the expert region on this node; entities run on the torch dispatcher when configured. New
    /// shards go to the region with the fewest; live shards never move (see <see cref="ExpertShardAllocation"/>).
    /// </summary>
    public static IActorRef Start(ActorSystem system, int shards = 64)
    {
        var hasDispatcher = system.Dispatchers.HasDispatcher(Dispatcher);
        var sharding = ClusterSharding.Get(system);
        var settings = ClusterShardingSettings.Create(system);
        return sharding.Start(
            TypeName,
            id => hasDispatcher ? ExpertActor.Props(id).WithDispatcher(Dispatcher) : ExpertActor.Props(id),
            settings,
            new ExpertMessageExtractor(shards),
            new ExpertShardAllocation(sharding.DefaultShardAllocationStrategy(settings)),
            PoisonPill.Instance);
    }

    /// <summary>A proxy to the region, for nodes that host no experts.</summary>
    public static IActorRef StartProxy(ActorSystem system, int shards = 64) =>
        ClusterSharding.Get(system).StartProxy(TypeName, role: null!, new ExpertMessageExtractor(shards));
}

/// <summary>
/// Places new shards as the configured least-shard strategy does (on the region with the fewest shards, so a node
/// that joins gets the experts created at the next growth) and never rebalances. An expert's optimizer state and
/// the autograd graphs of a step in flight live only in its entity; a rebalance stops the entity and starts it
/// empty elsewhere, and drops the messages buffered during the hand-off, which fails the step. Entities move only
/// when their node leaves or dies, and the training loop then rolls back to its last checkpoint.
/// </summary>
public sealed class ExpertShardAllocation(IShardAllocationStrategy placement) : IActorSystemDependentAllocationStrategy
{
    public void Start(ActorSystem system)
    {
        switch (placement)
        {
            case IActorSystemDependentAllocationStrategy dependent:
                dependent.Start(system);
                break;
            case IStartableAllocationStrategy startable:
                startable.Start();
                break;
        }
    }

    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId,
        IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations) =>
        placement.AllocateShard(requester, shardId, currentShardAllocations);

    public Task<IImmutableSet<string>> Rebalance(
        IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations,
        IImmutableSet<string> rebalanceInProgress) =>
        Task.FromResult<IImmutableSet<string>>(ImmutableHashSet<string>.Empty);
}
