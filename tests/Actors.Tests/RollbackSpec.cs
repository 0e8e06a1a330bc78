using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Gating;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using LifelongMoE.Actors.Training;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Data;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// Rolling back to a mid-phase checkpoint, in one process (experts under a local host): restoring the trunk, its
/// optimizer and schedule position and every expert then training on gives exactly the losses of the run that never
/// stopped; and a run whose expert entity is lost (restarted empty, as sharding does when a node dies) mid-phase or
/// during a growth recovers, journals it, and ends with the losses and evaluation rows of the unbroken run.
/// </summary>
public sealed class RollbackSpec : TestKit
{
    private const string Persistence = """
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """;

    private static readonly string[] Distributions = { "fiction", "legal", "scripture" };
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    private readonly string directory = TinyRun.TempDirectory("rollback");
    private readonly ITestOutputHelper output;

    public RollbackSpec(ITestOutputHelper output)
        : base(SpecConfig.Of(Persistence, SpecConfig.Dispatchers, SpecConfig.TestTimeouts), output)
    {
        this.output = output;
    }

    // Two MoE layers (blocks 1 and 3), top-2 routing over 2 experts, then 4 after the first growth.
    private static readonly ModelConfig Config = new(VocabSize: 256, ContextLength: 16, DModel: 16, NumHeads: 2,
        NumLayers: 4, DFf: 32, MoeEvery: 2, InitialExperts: 2, TopK: 2);

    private static readonly TrainOptions Train = new(LearningRate: 3e-3, WarmupSteps: 2, DistillLambda: 0.5);
    private static readonly GrowthOptions Growth = new(ExpertsPerShift: 2, NoiseStd: 0.01);

    private RunSettings Settings(string name) => TinyRun.Settings(Path.Combine(directory, name), Distributions) with
    {
        Model = Config, Train = Train, Growth = Growth, StepsPerPhase = 8, CheckpointEvery = 3, BatchSize = 4,
    };

    [Fact]
    public void Training_on_from_a_restored_mid_phase_checkpoint_repeats_the_losses_of_the_uninterrupted_run()
    {
        var experts = Sys.ActorOf(LocalExpertHost.Props("torch-dispatcher"), "experts");
        var adam = AdamWSettings.From(Train.AdamOptions);
        var channel = new AskExpertChannel(experts, TimeSpan.FromSeconds(20), CPU, adam);
        manual_seed(3);
        var gating = Sys.ActorOf(GatingActor.Props(new MoeTransformer(Config), Train, Growth, channel, CPU, seed: 3)
            .WithDispatcher("gating-dispatcher"));
        var first = TestCorpus.Batches("fiction", 3, 4, Config.ContextLength);
        var second = TestCorpus.Batches("legal", 6, 4, Config.ContextLength);
        var checkpoint = Path.Combine(directory, "mid-phase");
        Directory.CreateDirectory(checkpoint);
        long step = 0;
        List<StepResult> Run(IEnumerable<TokenBatch> batches, long from) => batches.Select(b =>
        {
            gating.Tell(new RunStep(from++, b.Tokens, b.BatchSize));
            return ExpectMsg<StepDone>().Result;
        }).ToList();

        gating.Tell(new BeginPhase(0, 10, Shift: false));
        ExpectMsg<PhaseBegun>();
        Run(first, step);
        step += first.Count;
        gating.Tell(new BeginPhase(1, 10, Shift: true));
        ExpectMsg<PhaseBegun>();
        Run(second.Take(2), step);
        step += 2;
        gating.Tell(new SaveModel(checkpoint, WithOptimizer: true));
        var saved = ExpectMsg<ModelSaved>();
        var uninterrupted = Run(second.Skip(2), step);

        gating.Tell(new RestoreModel(checkpoint, saved.PhaseStep, saved.Frozen));
        ExpectMsg<ModelRestored>();
        var repeated = Run(second.Skip(2), step);

        Assert.Equal(2, saved.PhaseStep);
        Assert.Equal(new[] { "L1-E0", "L1-E1", "L3-E0", "L3-E1" }, saved.Frozen);
        Assert.True(File.Exists(Path.Combine(checkpoint, GatingActor.TrunkOptimizerFile)));
        for (int i = 0; i < uninterrupted.Count; i++)
        {
            output.WriteLine($"step {i}: uninterrupted {uninterrupted[i].Loss:R}  after restore {repeated[i].Loss:R}");
            Assert.Equal(uninterrupted[i].Loss, repeated[i].Loss);
            Assert.Equal(uninterrupted[i].LearningRate, repeated[i].LearningRate);
            Assert.Equal(uninterrupted[i].GradNorm, repeated[i].GradNorm);
        }

        // Without the trunk's optimizer state the first step after the restore still matches (same weights), the
        // next ones do not: the state restored above is what made them equal.
        File.Delete(Path.Combine(checkpoint, GatingActor.TrunkOptimizerFile));
        gating.Tell(new RestoreModel(checkpoint, saved.PhaseStep, saved.Frozen));
        ExpectMsg<ModelRestored>();
        var freshTrunkOptimizer = Run(second.Skip(2), step);
        Assert.Equal(uninterrupted[0].Loss, freshTrunkOptimizer[0].Loss);
        Assert.NotEqual(uninterrupted[1].Loss, freshTrunkOptimizer[1].Loss);

        // A checkpoint whose frozen set is not the phase's belongs to another phase: refused, naming the checkpoint.
        gating.Tell(new RestoreModel(checkpoint, saved.PhaseStep, Frozen: Array.Empty<string>()));
        var refused = Assert.IsType<CheckpointException>(ExpectMsg<Status.Failure>().Cause);
        Assert.Contains("another phase", refused.Message);
    }

    [Fact]
    public void Run_whose_expert_restarts_empty_mid_phase_rolls_back_and_ends_as_the_unbroken_run()
    {
        var unbroken = RunToEnd(Settings("unbroken"), experts: null);
        // The first expert asked for step 13's forward (phase 2, step 5 of 8) loses its state; checkpoints of
        // phase 2 were taken at global steps 8 (its start), 11 and 14.
        var broken = RunToEnd(Settings("broken"), m => m is ExpertForward { KeepGraph: true, Key.Step: 13 });

        var recovered = Assert.Single(broken.Events.OfType<RunRecovered>());
        Assert.Equal((1, 13L, 11L), (recovered.Phase, recovered.FailedAtStep, recovered.RestoredStep));
        Assert.Equal(1, recovered.Attempt);
        Assert.Equal("checkpoints/00000011-p02-legal", recovered.Checkpoint);
        Assert.Contains("no weights", recovered.Cause);
        AssertSameRun(unbroken, broken);
        // Global steps 11 and 12 (steps 4 and 5 of phase 2) ran twice, before the failure and after the rollback;
        // AssertSameRun compared both runs of each with the unbroken run.
        Assert.Equal(2, broken.Losses.Count(l => l.Key == (2, 4)));
        Assert.Equal(2, broken.Losses.Count(l => l.Key == (2, 5)));
    }

    [Fact]
    public void Run_whose_expert_restarts_empty_during_a_growth_restarts_the_phase_and_ends_as_the_unbroken_run()
    {
        var unbroken = RunToEnd(Settings("unbroken"), experts: null);
        // The growth into the second phase copies the new experts from the old ones: the first it asks loses its state.
        var broken = RunToEnd(Settings("broken"), m => m is GetExpertWeights);

        var recovered = Assert.Single(broken.Events.OfType<RunRecovered>());
        Assert.Equal((1, 8L, 8L), (recovered.Phase, recovered.FailedAtStep, recovered.RestoredStep));
        Assert.Equal("checkpoints/00000008-p01-fiction-end", recovered.Checkpoint);
        AssertSameRun(unbroken, broken);
    }

    private sealed record Outcome(List<object> Events, List<KeyValuePair<(int Phase, int Step), double>> Losses);

    /// <summary>
    /// Runs every phase under a supervisor of its own; with <paramref name="experts"/> set, the expert of the first
    /// request it matches is replaced by an empty one first.
    /// </summary>
    private Outcome RunToEnd(RunSettings settings, Func<IExpertMessage, bool>? experts)
    {
        var host = Sys.ActorOf(Props.Create(() => new ForgetfulHost(experts ?? (_ => false))));
        var progress = CreateTestProbe();
        Sys.EventStream.Subscribe(progress.Ref, typeof(TrainingProgress));
        var id = Path.GetFileName(settings.OutputDirectory);
        Sys.ActorOf(Props.Create(() => new PhaseSupervisor(
            resume => TrainingLoop.Props(settings, resume, host), TestActor, id)), id);

        var events = new List<object>();
        while (events.LastOrDefault() is not RunFinished)
            events.Add(ReceiveOne(RunTimeout) ?? throw new TimeoutException($"{id}: no RunFinished"));
        Sys.EventStream.Unsubscribe(progress.Ref);
        var losses = progress.ReceiveWhile(TimeSpan.FromMilliseconds(200), m => (TrainingProgress)m)
            .Select(p => KeyValuePair.Create((p.Phase, p.Step), p.Loss)).ToList();
        Assert.Equal(new RunFinished(true, null), events[^1]);
        return new Outcome(events, losses);
    }

    /// <summary>
    /// Every distribution trained once, in order; every step's loss (the last one where a step ran twice, and each
    /// repetition) and every evaluation row as in the unbroken run; the final checkpoint holds every expert.
    /// </summary>
    private void AssertSameRun(Outcome unbroken, Outcome broken)
    {
        Assert.Equal(Distributions, broken.Events.OfType<PhaseStarted>().Select(s => s.Distribution));
        Assert.Equal(new[] { 0, 1, 2 }, broken.Events.OfType<PhaseCompleted>().Select(c => c.Phase));

        var expected = unbroken.Losses.ToDictionary(l => l.Key, l => l.Value);
        Assert.Equal(expected.Keys.Order(), broken.Losses.Select(l => l.Key).Distinct().Order());
        foreach (var (key, loss) in broken.Losses)
        {
            if (loss != expected[key]) output.WriteLine($"phase {key.Phase}, step {key.Step}: {loss:R}");
            Assert.Equal(expected[key], loss);
        }

        var rows = unbroken.Events.OfType<PhaseCompleted>().Zip(broken.Events.OfType<PhaseCompleted>());
        foreach (var (a, b) in rows) Assert.Equal(a.BitsPerByte, b.BitsPerByte);

        var last = broken.Events.OfType<CheckpointCommitted>().Last();
        Assert.True(last.PhaseEnd);
        var dir = Path.Combine(directory, "broken", last.Path);
        CheckpointDirectory.Verify(dir);
        foreach (var block in new[] { 1, 3 })
            for (int e = 0; e < Config.InitialExperts + 2 * Growth.ExpertsPerShift; e++)
                Assert.True(File.Exists(Path.Combine(dir, ModelCheckpoint.ExpertFile(block, e))), $"L{block}-E{e}");
    }

    /// <summary>
    /// Experts as children by id, like <see cref="LocalExpertHost"/>; the expert of the first request that matches
    /// is stopped and replaced by a new, empty entity before the request reaches it, as a sharding region restarts an
    /// entity on another node when its node is gone.
    /// </summary>
    private sealed class ForgetfulHost : ReceiveActor
    {
        private readonly Dictionary<string, IActorRef> experts = new();
        private int generation;

        public ForgetfulHost(Func<IExpertMessage, bool> forget)
        {
            bool forgotten = false;
            Receive<IExpertMessage>(m =>
            {
                if (!forgotten && forget(m))
                {
                    forgotten = true;
                    Context.Stop(Expert(m.ExpertId));
                    experts.Remove(m.ExpertId);
                }
                Expert(m.ExpertId).Forward(m);
            });
        }

        private IActorRef Expert(string id)
        {
            if (experts.TryGetValue(id, out var expert)) return expert;
            var props = ExpertActor.Props(id).WithDispatcher("torch-dispatcher");
            return experts[id] = Context.ActorOf(props, $"{id}-{generation++}");
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) TinyRun.Delete(directory);
    }
}
