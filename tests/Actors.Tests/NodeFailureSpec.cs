using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using LifelongMoE.Actors.Training;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using Xunit.Abstractions;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// Cluster membership changes under a running training, on a real cluster on loopback in this process: the phase
/// supervisor and its loop on the first node, the expert region on every node. A worker that dies mid-phase
/// loses its experts; the run rolls back to the phase's last checkpoint and ends as an unbroken run does. A worker
/// that joins mid-run takes no live expert away (no rebalance) and gets the experts of the next growth.
/// </summary>
public sealed class NodeFailureSpec : TestKit
{
    private static readonly string[] Distributions = { "fiction", "legal", "scripture" };
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    // Failure detection, downing and shard re-allocation in seconds rather than the tens of seconds of production
    // settings: the split-brain resolver downs a node unreachable for stable-after. Heartbeats are generous enough
    // for two busy cores. Rebalancing is asked for every second: the expert region must still never move a shard.
    private static readonly Config NodeConfig = ConfigurationFactory.ParseString(SpecConfig.Of("""
        akka {
          loglevel = ERROR
          actor.provider = cluster
          remote.dot-netty.tcp {
            hostname = "127.0.0.1"
            port = 0
            maximum-frame-size = 16MiB
          }
          cluster {
            downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
            split-brain-resolver {
              active-strategy = keep-majority
              stable-after = 2s
              down-all-when-unstable = off
            }
            failure-detector {
              heartbeat-interval = 500ms
              acceptable-heartbeat-pause = 2s
            }
            sharding {
              remember-entities = off
              passivate-idle-entity-after = off
              state-store-mode = ddata
              rebalance-interval = 1s
              # A region asks the coordinator again for the new home of a dead node's shards this often.
              retry-interval = 500ms
            }
          }
          # A node that dies does not leave first; the others go at the end of the spec, all at once.
          coordinated-shutdown.run-by-actor-system-terminate = off
          persistence.journal.plugin = "akka.persistence.journal.inmem"
          persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        }
        """, SpecConfig.Serialization, SpecConfig.Dispatchers, SpecConfig.TestTimeouts));

    // Two MoE layers (blocks 1 and 3) of 2 experts, 4 after the first growth, 6 after the second.
    private static readonly ModelConfig Model = new(VocabSize: 256, ContextLength: 16, DModel: 16, NumHeads: 2,
        NumLayers: 4, DFf: 32, MoeEvery: 2, InitialExperts: 2, TopK: 2);

    private const int StepsPerPhase = 10;

    private readonly ITestOutputHelper output;
    private readonly string directory = TinyRun.TempDirectory("node-failure");
    private readonly List<ActorSystem> others = new();

    public NodeFailureSpec(ITestOutputHelper output) : base(NodeConfig, output: output)
    {
        this.output = output;
    }

    private RunSettings Settings(string name) => TinyRun.Settings(Path.Combine(directory, name), Distributions) with
    {
        Model = Model, StepsPerPhase = StepsPerPhase, CheckpointEvery = 4, BatchSize = 4,
        ExpertTimeout = TimeSpan.FromSeconds(3), StepTimeout = TimeSpan.FromSeconds(30),
    };

    [Fact]
    public async Task Run_survives_a_worker_that_dies_mid_phase_and_ends_as_the_unbroken_run()
    {
        var nodes = await FormClusterAsync(3);
        var regions = await StartRegionsAsync(nodes);
        var settings = Settings("killed");
        // Phase 2 runs global steps 10 to 19, with checkpoints at 10 (its start) and 14: pause at the second.
        Func<object, bool> secondCheckpoint = m => m is CheckpointCommitted { Phase: 1, PhaseEnd: false, Step: 14 };
        var listener = Sys.ActorOf(Props.Create(() => new PauseWhen(secondCheckpoint, TestActor)));
        var supervisor = Sys.ActorOf(PhaseSupervisor.Props(settings, regions[0], listener), "supervisor");

        var events = Receive(m => m is ControlAck);
        var doomed = await EntitiesAsync(regions[2]);
        output.WriteLine($"node 3 hosts {string.Join(" ", doomed)}; it dies now");
        Assert.NotEmpty(doomed);
        await nodes[2].Terminate();
        others.Remove(nodes[2]);
        supervisor.Tell(new Resume());
        events.AddRange(Receive(m => m is RunFinished));

        Assert.Equal(new RunFinished(true, null), events[^1]);
        Assert.Equal(Distributions, events.OfType<PhaseStarted>().Select(s => s.Distribution));
        Assert.Equal(new[] { 0, 1, 2 }, events.OfType<PhaseCompleted>().Select(c => c.Phase));
        var recovered = events.OfType<RunRecovered>().ToList();
        Assert.NotEmpty(recovered);
        Assert.All(recovered, r => Assert.Equal((1, 14L), (r.Phase, r.RestoredStep)));
        Assert.All(recovered, r => Assert.Equal("checkpoints/00000014-p02-legal", r.Checkpoint));
        foreach (var r in recovered) output.WriteLine($"recovered: {r}");

        supervisor.Tell(new GetPhaseLog());
        var log = ExpectMsg<PhaseLog>();
        Assert.Equal(recovered, log.Recoveries);
        var final = Path.Combine(settings.OutputDirectory, log.Checkpoints[^1].Path);
        CheckpointDirectory.Verify(final);
        var all = AllExperts(Model.InitialExperts + 2 * settings.Growth.ExpertsPerShift);
        Assert.All(all, id => Assert.True(File.Exists(Path.Combine(final, "experts", id + ".safetensors")), id));
        var survivors = (await EntitiesAsync(regions[0])).Concat(await EntitiesAsync(regions[1]));
        Assert.Equal(all.Order(), survivors.Order());

        // The same run on one node, never interrupted: every evaluation row is the same.
        var unbroken = RunLocally(Settings("unbroken"));
        foreach (var (a, b) in unbroken.Zip(events.OfType<PhaseCompleted>()))
        {
            output.WriteLine($"phase {a.Phase}: unbroken [{string.Join(", ", a.BitsPerByte)}] " +
                             $"recovered [{string.Join(", ", b.BitsPerByte)}]");
            for (int d = 0; d < Distributions.Length; d++) Assert.Equal(a.BitsPerByte[d], b.BitsPerByte[d], 1e-9);
        }
    }

    [Fact]
    public async Task Worker_joining_mid_run_takes_no_live_expert_and_gets_the_next_growth()
    {
        var nodes = await FormClusterAsync(2);
        var regions = await StartRegionsAsync(nodes);
        var settings = Settings("joined");
        Func<object, bool> secondCheckpoint = m => m is CheckpointCommitted { Phase: 0, PhaseEnd: false, Step: 4 };
        var listener = Sys.ActorOf(Props.Create(() => new PauseWhen(secondCheckpoint, TestActor)));
        var supervisor = Sys.ActorOf(PhaseSupervisor.Props(settings, regions[0], listener), "supervisor");

        var events = Receive(m => m is ControlAck);
        var before = new[] { await EntitiesAsync(regions[0]), await EntitiesAsync(regions[1]) };
        var joined = ActorSystem.Create(Sys.Name, NodeConfig);
        others.Add(joined);
        Cluster.Get(joined).Join(Cluster.Get(Sys).SelfAddress);
        regions.Add(ExpertSharding.Start(joined));
        await AwaitMembersUpAsync(nodes.Append(joined).ToList());
        await AwaitRegionsAsync(regions[0], 3);
        // Three rebalance rounds with a new, empty region: the default strategy would have moved shards to it.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var after = new[] { await EntitiesAsync(regions[0]), await EntitiesAsync(regions[1]) };
        supervisor.Tell(new Resume());
        events.AddRange(Receive(m => m is RunFinished));

        Assert.Equal(before, after);
        Assert.Equal(new RunFinished(true, null), events[^1]);
        Assert.Empty(events.OfType<RunRecovered>());
        Assert.Equal(Distributions, events.OfType<PhaseStarted>().Select(s => s.Distribution));
        Assert.Equal(new[] { 0, 1, 2 }, events.OfType<PhaseCompleted>().Select(c => c.Phase));
        var placed = new List<string>();
        foreach (var region in regions) placed.AddRange(await EntitiesAsync(region));
        var newcomer = await EntitiesAsync(regions[2]);
        output.WriteLine($"before the join: {string.Join(" | ", before.Select(ids => string.Join(" ", ids)))}");
        output.WriteLine($"the new node hosts {string.Join(" ", newcomer)}");
        Assert.NotEmpty(newcomer);
        Assert.DoesNotContain(newcomer, id => before.Any(ids => ids.Contains(id)));
        Assert.Equal(AllExperts(Model.InitialExperts + 2 * settings.Growth.ExpertsPerShift).Order(), placed.Order());
    }

    private static List<string> AllExperts(int perLayer) => new[] { 1, 3 }
        .SelectMany(block => Enumerable.Range(0, perLayer).Select(e => MoeTransformer.ExpertId(block, e))).ToList();

    /// <summary>The supervisor's reports (through the listener), up to and including the first that matches.</summary>
    private List<object> Receive(Func<object, bool> last)
    {
        var events = new List<object>();
        while (events.Count == 0 || !last(events[^1]))
            events.Add(ReceiveOne(RunTimeout) ?? throw new TimeoutException($"no match within {RunTimeout}"));
        return events;
    }

    private async Task<List<ActorSystem>> FormClusterAsync(int size)
    {
        var seed = Cluster.Get(Sys).SelfAddress;
        Cluster.Get(Sys).Join(seed);
        for (int i = 1; i < size; i++)
        {
            var node = ActorSystem.Create(Sys.Name, NodeConfig);
            others.Add(node);
            Cluster.Get(node).Join(seed);
        }
        var nodes = new[] { Sys }.Concat(others).ToList();
        await AwaitMembersUpAsync(nodes);
        return nodes;
    }

    private async Task AwaitMembersUpAsync(IReadOnlyList<ActorSystem> nodes) => await AwaitAssertAsync(() =>
    {
        foreach (var node in nodes)
            Assert.Equal(nodes.Count, Cluster.Get(node).State.Members.Count(m => m.Status == MemberStatus.Up));
    }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));

    /// <summary>The expert region on every node, all known to the coordinator before any expert is placed.</summary>
    private async Task<List<IActorRef>> StartRegionsAsync(IReadOnlyList<ActorSystem> nodes)
    {
        var regions = nodes.Select(n => ExpertSharding.Start(n)).ToList();
        await AwaitRegionsAsync(regions[0], nodes.Count);
        return regions;
    }

    private async Task AwaitRegionsAsync(IActorRef region, int count) => await AwaitAssertAsync(async () =>
    {
        var known = await region.Ask<CurrentRegions>(GetCurrentRegions.Instance, TimeSpan.FromSeconds(3));
        Assert.Equal(count, known.Regions.Count);
    }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));

    private static async Task<List<string>> EntitiesAsync(IActorRef region)
    {
        var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(5));
        return state.Shards.SelectMany(s => s.EntityIds).Order().ToList();
    }

    /// <summary>The same run with every expert on this node (local host), with a persistence id of its own.</summary>
    private List<PhaseCompleted> RunLocally(RunSettings settings)
    {
        var probe = CreateTestProbe();
        var experts = Sys.ActorOf(LocalExpertHost.Props("torch-dispatcher"), "local-experts");
        Sys.ActorOf(Props.Create(() => new PhaseSupervisor(
            resume => TrainingLoop.Props(settings, resume, experts), probe.Ref, "unbroken")));
        var completed = new List<PhaseCompleted>();
        while (true)
        {
            var m = probe.ReceiveOne(RunTimeout) ?? throw new TimeoutException("the unbroken run did not finish");
            if (m is RunFinished f) return f.Completed ? completed : throw new InvalidOperationException(f.Error);
            if (m is PhaseCompleted c) completed.Add(c);
        }
    }

    /// <summary>
    /// Passes the supervisor's reports on, and pauses the run at the first that matches, between two steps: the
    /// spec then changes the cluster, and resumes it.
    /// </summary>
    private sealed class PauseWhen : ReceiveActor
    {
        public PauseWhen(Func<object, bool> trigger, IActorRef reportTo)
        {
            bool paused = false;
            ReceiveAny(m =>
            {
                if (!paused && trigger(m))
                {
                    paused = true;
                    Sender.Tell(new Pause());
                }
                reportTo.Forward(m);
            });
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var node in others) Shutdown(node, TimeSpan.FromSeconds(20));
        base.Dispose(disposing);
        if (disposing) TinyRun.Delete(directory);
    }
}
