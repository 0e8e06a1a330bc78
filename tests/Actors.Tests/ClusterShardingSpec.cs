using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Gating;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Model.Data;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// A real three-node cluster on loopback, in this process: the expert region started on every node, the gating
/// engine on the first one reaching its experts through the region. Experts land on several nodes, so tensors
/// cross process boundaries through the MessagePack serializer, and the run must still match the in-process
/// trainer step by step, before and after a growth.
/// </summary>
public sealed class ClusterShardingSpec : TestKit
{
    private const int StepsPerPhase = 5, BatchSize = 4;

    private static readonly ModelConfig Model = new(VocabSize: 256, ContextLength: 32, DModel: 32, NumHeads: 2,
        NumLayers: 4, DFf: 64, MoeEvery: 2, InitialExperts: 4, TopK: 2);

    private static readonly TrainOptions Train = new(LearningRate: 3e-3, WarmupSteps: 2, DistillLambda: 0.5);
    private static readonly GrowthOptions Growth = new(ExpertsPerShift: 2, NoiseStd: 0.01);

    private static readonly Config NodeConfig = ConfigurationFactory.ParseString(SpecConfig.Of("""
        akka {
          loglevel = ERROR
          actor.provider = cluster
          remote.dot-netty.tcp {
            hostname = "127.0.0.1"
            port = 0
            # An expert exchange carries (tokens x d_model) floats; the 128,000-byte default would drop large ones.
            maximum-frame-size = 16MiB
          }
          cluster {
            sharding {
              remember-entities = off
              passivate-idle-entity-after = off
              state-store-mode = ddata
            }
            # The nodes go away together at the end of the spec; nothing is to be downed meanwhile.
            downing-provider-class = ""
          }
          # Leaving the cluster gracefully takes seconds per node, and every node of this spec goes at once.
          coordinated-shutdown.run-by-actor-system-terminate = off
        }
        """, SpecConfig.Serialization, SpecConfig.Dispatchers, SpecConfig.TestTimeouts));

    private readonly ITestOutputHelper output;
    private readonly List<ActorSystem> others = new();

    public ClusterShardingSpec(ITestOutputHelper output) : base(NodeConfig, output: output)
    {
        this.output = output;
    }

    private async Task<IReadOnlyList<ActorSystem>> FormClusterAsync()
    {
        var seed = Cluster.Get(Sys).SelfAddress;
        Cluster.Get(Sys).Join(seed);
        for (int i = 0; i < 2; i++)
        {
            var node = ActorSystem.Create(Sys.Name, NodeConfig);
            others.Add(node);
            Cluster.Get(node).Join(seed);
        }
        var nodes = new[] { Sys }.Concat(others).ToList();
        await AwaitAssertAsync(() =>
        {
            foreach (var node in nodes)
                Assert.Equal(3, Cluster.Get(node).State.Members.Count(m => m.Status == MemberStatus.Up));
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));
        return nodes;
    }

    [Fact]
    public async Task Run_through_the_sharding_region_of_three_nodes_matches_the_in_process_trainer()
    {
        var phases = new[]
        {
            TestCorpus.Batches("fiction", StepsPerPhase, BatchSize, Model.ContextLength),
            TestCorpus.Batches("legal", StepsPerPhase, BatchSize, Model.ContextLength),
        };
        var reference = RunInProcess(phases);

        var nodes = await FormClusterAsync();
        var regions = nodes.Select(n => ExpertSharding.Start(n)).ToList();
        // Every region known to the coordinator before the first expert is placed, so shards spread over all three.
        await AwaitAssertAsync(async () =>
        {
            var known = await regions[0].Ask<CurrentRegions>(GetCurrentRegions.Instance, TimeSpan.FromSeconds(3));
            Assert.Equal(3, known.Regions.Count);
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));

        var actors = RunThroughRegion(regions[0], phases);

        for (int i = 0; i < reference.Count; i++)
        {
            output.WriteLine($"step {i}: in-process {reference[i]:F6}  cluster {actors[i]:F6}");
            Assert.True(Math.Abs(reference[i] - actors[i]) < 1e-4,
                $"step {i}: in-process loss {reference[i]} vs cluster {actors[i]}");
        }

        var perNode = new List<List<string>>();
        foreach (var (region, node) in regions.Zip(nodes))
        {
            var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(5));
            var ids = state.Shards.SelectMany(s => s.EntityIds).Order().ToList();
            output.WriteLine($"{Cluster.Get(node).SelfAddress}: {string.Join(" ", ids)}");
            perNode.Add(ids);
        }
        int experts = Model.MoeLayerCount * (Model.InitialExperts + Growth.ExpertsPerShift);
        Assert.Equal(experts, perNode.Sum(ids => ids.Count));
        Assert.True(perNode.Count(ids => ids.Count > 0) >= 2,
            $"experts per node: {string.Join(", ", perNode.Select(ids => ids.Count))}");

        // A remote expert's failure crosses back as a failure naming it, not as a silent timeout.
        var remote = perNode.Skip(1).SelectMany(ids => ids).First();
        var channel = new AskExpertChannel(regions[0], TimeSpan.FromSeconds(10), CPU, AdamWSettings.From(Train.AdamOptions));
        var e = Assert.Throws<ExpertRequestException>(() =>
            channel.Backward(new StepKey(999, 0, 1), new[] { new ExpertCall(remote, zeros(2, Model.DModel)) }));
        output.WriteLine($"remote failure: {e.Message}");
        Assert.Equal(remote, e.ExpertId);
        Assert.Contains("no forward pending", e.Message);
    }

    private static MoeTransformer Build()
    {
        manual_seed(11);
        return new MoeTransformer(Model);
    }

    private static List<double> RunInProcess(IReadOnlyList<List<TokenBatch>> phases)
    {
        using var model = Build();
        using var trainer = new InProcessTrainer(model, Train);
        using var generator = new Generator(99);
        var losses = new List<double>();
        for (int p = 0; p < phases.Count; p++)
        {
            trainer.BeginPhase(StepsPerPhase, shift: p > 0, Growth, generator);
            losses.AddRange(phases[p].Select(b => trainer.Step(b.Tokens, b.BatchSize).Loss));
        }
        return losses;
    }

    private static List<double> RunThroughRegion(IActorRef region, IReadOnlyList<List<TokenBatch>> phases)
    {
        var channel = new AskExpertChannel(region, TimeSpan.FromSeconds(30), CPU, AdamWSettings.From(Train.AdamOptions));
        using var model = Build();
        using var engine = new GatingEngine(model, Train, channel, CPU);
        using var generator = new Generator(99);
        var losses = new List<double>();
        long step = 0;
        for (int p = 0; p < phases.Count; p++)
        {
            engine.BeginPhase(StepsPerPhase, shift: p > 0, Growth, generator);
            losses.AddRange(phases[p].Select(b => engine.Step(step++, b.Tokens, b.BatchSize).Loss));
        }
        return losses;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var node in others) Shutdown(node, TimeSpan.FromSeconds(20));
        base.Dispose(disposing);
    }
}
