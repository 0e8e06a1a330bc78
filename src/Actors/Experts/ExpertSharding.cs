using Akka.Actor;
using Akka.Cluster.Sharding;
using LifelongMoE.Actors.Messages;

namespace LifelongMoE.Actors.Experts;

/// <summary>Routes <see cref="IExpertMessage"/>s to expert entities by id, spreading ids over a fixed number of shards.</summary>
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

    /// <summary>Starts (or joins) the expert region on this node; entities run on the torch dispatcher when configured.</summary>
    public static IActorRef Start(ActorSystem system, int shards = 64)
    {
        var hasDispatcher = system.Dispatchers.HasDispatcher(Dispatcher);
        return ClusterSharding.Get(system).Start(
            TypeName,
            id => hasDispatcher ? ExpertActor.Props(id).WithDispatcher(Dispatcher) : ExpertActor.Props(id),
            ClusterShardingSettings.Create(system),
            new ExpertMessageExtractor(shards));
    }

    /// <summary>A proxy to the region, for nodes that host no experts.</summary>
    public static IActorRef StartProxy(ActorSystem system, int shards = 64) =>
        ClusterSharding.Get(system).StartProxy(TypeName, role: null!, new ExpertMessageExtractor(shards));
}
