using Akka.Actor;
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
/// The gating actor driven by its messages (BeginPhase, RunStep, EvaluateSequences) against expert actors, with
/// many experts, top-1 routing and a tiny batch, so that in most steps some experts receive no token at all.
/// Every step must still match the in-process trainer, and every trainable expert must still take its step.
/// </summary>
public sealed class GatingActorSpec : TestKit
{
    private const int Seed = 5, StepsPerPhase = 4, BatchSize = 2;

    // 16 tokens a step over 8 experts with top-1: some experts are left without tokens.
    private static readonly ModelConfig Config = new(VocabSize: 256, ContextLength: 8, DModel: 16, NumHeads: 2,
        NumLayers: 2, DFf: 32, MoeEvery: 2, InitialExperts: 8, TopK: 1);

    private static readonly TrainOptions Train = new(LearningRate: 3e-3, WarmupSteps: 2, DistillLambda: 0.5);
    private static readonly GrowthOptions Growth = new(ExpertsPerShift: 2, NoiseStd: 0.01);

    private readonly ITestOutputHelper output;

    public GatingActorSpec(ITestOutputHelper output)
        : base(SpecConfig.Of(SpecConfig.Dispatchers, SpecConfig.TestTimeouts), output)
    {
        this.output = output;
    }

    private static MoeTransformer Build()
    {
        manual_seed(Seed);
        return new MoeTransformer(Config);
    }

    /// <summary>The generator the gating actor grows with in a phase; the in-process side must draw the same.</summary>
    private static Generator PhaseGenerator(int phase) => new((ulong)Seed * 1000 + (ulong)phase);

    private static List<List<TokenBatch>> Phases() => new()
    {
        TestCorpus.Batches("fiction", StepsPerPhase, BatchSize, Config.ContextLength),
        TestCorpus.Batches("legal", StepsPerPhase, BatchSize, Config.ContextLength),
    };

    private static List<long[]> EvaluationSequences() => TestCorpus.Batches("scripture", 3, BatchSize, Config.ContextLength)
        .SelectMany(b => b.Tokens.Chunk(Config.ContextLength + 1)).ToList();

    private (IActorRef Gating, IActorRef Experts, MoeTransformer Model) StartGating()
    {
        var experts = Sys.ActorOf(LocalExpertHost.Props("torch-dispatcher"), "experts");
        var channel = new AskExpertChannel(experts, TimeSpan.FromSeconds(20), CPU, AdamWSettings.From(Train.AdamOptions));
        var model = Build();
        var gating = Sys.ActorOf(GatingActor.Props(model, Train, Growth, channel, CPU, Seed)
            .WithDispatcher("gating-dispatcher"), "gating");
        return (gating, experts, model);
    }

    [Fact]
    public void Steps_with_experts_that_receive_no_tokens_match_the_in_process_trainer_and_step_every_trainable_expert()
    {
        var phases = Phases();
        var reference = new List<double>();
        using (var model = Build())
        using (var trainer = new InProcessTrainer(model, Train))
        {
            for (int p = 0; p < phases.Count; p++)
            {
                trainer.BeginPhase(StepsPerPhase, shift: p > 0, Growth, PhaseGenerator(p));
                reference.AddRange(phases[p].Select(b => trainer.Step(b.Tokens, b.BatchSize).Loss));
            }
        }

        var (gating, experts, actorModel) = StartGating();
        var moe = actorModel.MoeLayers.Single();
        long step = 0;
        int idleExpertSteps = 0;
        for (int p = 0; p < phases.Count; p++)
        {
            gating.Tell(new BeginPhase(p, StepsPerPhase, Shift: p > 0));
            var begun = ExpectMsg<PhaseBegun>();
            Assert.Equal(Config.InitialExperts + p * Growth.ExpertsPerShift, begun.ExpertsPerLayer);
            Assert.Equal(p == 0 ? 0 : Growth.ExpertsPerShift, begun.AddedExperts.Count);
            var trainable = p == 0 ? Enumerable.Range(0, begun.ExpertsPerLayer).ToList()
                : Enumerable.Range(begun.ExpertsPerLayer - Growth.ExpertsPerShift, Growth.ExpertsPerShift).ToList();

            for (int s = 0; s < StepsPerPhase; s++, step++)
            {
                var before = moe.Layer.Stats.Load.ToArray();
                var batch = phases[p][s];
                gating.Tell(new RunStep(step, batch.Tokens, batch.BatchSize));
                var done = ExpectMsg<StepDone>();

                var load = moe.Layer.Stats.Load.Select((n, e) => n - (e < before.Length ? before[e] : 0)).ToArray();
                output.WriteLine($"step {step}: in-process {reference[(int)step]:F6} actors {done.Result.Loss:F6} " +
                                 $"load [{string.Join(" ", load)}]");
                Assert.Equal(step, done.Step);
                Assert.True(Math.Abs(reference[(int)step] - done.Result.Loss) < 1e-5,
                    $"step {step}: in-process loss {reference[(int)step]} vs actors {done.Result.Loss}");

                idleExpertSteps += trainable.Count(e => load[e] == 0);
                foreach (var e in Enumerable.Range(0, begun.ExpertsPerLayer))
                {
                    var id = MoeTransformer.ExpertId(moe.Block, e);
                    experts.Tell(new GetExpertState(id));
                    var state = ExpectMsg<ExpertState>();
                    if (trainable.Contains(e))
                        Assert.True(s + 1 == state.Steps,
                            $"step {step}: trainable {id} (load {load[e]}) has taken {state.Steps} optimizer steps, not {s + 1}");
                    else
                        Assert.True(state.Frozen, $"{id} should be frozen after the shift");
                }
            }
        }

        Assert.True(idleExpertSteps > 0, "no trainable expert went without tokens in any step: the spec tests nothing");
    }

    [Fact]
    public void Evaluate_sequences_through_the_actor_equals_the_in_process_mean_loss()
    {
        var phases = Phases();
        var sequences = EvaluationSequences();
        double expected;
        using (var model = Build())
        using (var trainer = new InProcessTrainer(model, Train))
        {
            for (int p = 0; p < phases.Count; p++)
            {
                trainer.BeginPhase(StepsPerPhase, shift: p > 0, Growth, PhaseGenerator(p));
                foreach (var b in phases[p]) trainer.Step(b.Tokens, b.BatchSize);
            }
            expected = Evaluation.MeanLoss(model, sequences, batchSize: 4, CPU);
        }

        var (gating, _, _) = StartGating();
        long step = 0;
        for (int p = 0; p < phases.Count; p++)
        {
            gating.Tell(new BeginPhase(p, StepsPerPhase, Shift: p > 0));
            ExpectMsg<PhaseBegun>();
            foreach (var b in phases[p])
            {
                gating.Tell(new RunStep(step++, b.Tokens, b.BatchSize));
                ExpectMsg<StepDone>();
            }
        }
        gating.Tell(new EvaluateSequences("scripture", sequences, BatchSize: 4));    // 6 sequences: a partial batch

        var evaluated = ExpectMsg<Evaluated>();
        output.WriteLine($"in-process {expected:F6}  actors {evaluated.MeanLossNats:F6}");
        Assert.Equal("scripture", evaluated.Distribution);
        Assert.True(Math.Abs(expected - evaluated.MeanLossNats) < 1e-5,
            $"in-process mean loss {expected} vs actors {evaluated.MeanLossNats}");
    }

    [Fact]
    public void Finetune_strategy_matches_the_in_process_trainer_across_a_shift()
    {
        // No growth and no freezing: every expert trains on into the next phase, where the in-process trainer
        // starts a fresh optimizer (moments and bias correction) for every parameter.
        var finetune = Train with { Strategy = Strategy.Finetune };
        var phases = Phases();
        var reference = new List<double>();
        using (var model = Build())
        using (var trainer = new InProcessTrainer(model, finetune))
        {
            for (int p = 0; p < phases.Count; p++)
            {
                trainer.BeginPhase(StepsPerPhase, shift: p > 0, Growth, PhaseGenerator(p));
                reference.AddRange(phases[p].Select(b => trainer.Step(b.Tokens, b.BatchSize).Loss));
            }
        }

        var experts = Sys.ActorOf(LocalExpertHost.Props("torch-dispatcher"), "experts");
        var channel = new AskExpertChannel(experts, TimeSpan.FromSeconds(20), CPU, AdamWSettings.From(Train.AdamOptions));
        var gating = Sys.ActorOf(GatingActor.Props(Build(), finetune, Growth, channel, CPU, Seed)
            .WithDispatcher("gating-dispatcher"));
        long step = 0;
        for (int p = 0; p < phases.Count; p++)
        {
            gating.Tell(new BeginPhase(p, StepsPerPhase, Shift: p > 0));
            ExpectMsg<PhaseBegun>(b => Assert.Equal(Config.InitialExperts, b.ExpertsPerLayer));
            foreach (var b in phases[p])
            {
                gating.Tell(new RunStep(step, b.Tokens, b.BatchSize));
                var loss = ExpectMsg<StepDone>().Result.Loss;
                output.WriteLine($"step {step}: in-process {reference[(int)step]:F6} actors {loss:F6}");
                Assert.True(Math.Abs(reference[(int)step] - loss) < 1e-5,
                    $"step {step}: in-process loss {reference[(int)step]} vs actors {loss}");
                step++;
            }
        }
    }

    [Fact]
    public void Restore_model_rolls_the_trunk_and_every_expert_back_to_a_saved_model()
    {
        var phases = Phases();
        var sequences = EvaluationSequences();
        var (gating, experts, _) = StartGating();
        var staging = TinyRun.TempDirectory("gating-save");
        try
        {
            long step = 0;
            void Run(int phase, int steps)
            {
                foreach (var b in phases[phase].Take(steps))
                {
                    gating.Tell(new RunStep(step++, b.Tokens, b.BatchSize));
                    ExpectMsg<StepDone>();
                }
            }
            double Evaluate()
            {
                gating.Tell(new EvaluateSequences("scripture", sequences, BatchSize: 4));
                return ExpectMsg<Evaluated>().MeanLossNats;
            }

            gating.Tell(new BeginPhase(0, StepsPerPhase, Shift: false));
            ExpectMsg<PhaseBegun>();
            Run(0, 2);
            gating.Tell(new BeginPhase(1, StepsPerPhase, Shift: true));
            ExpectMsg<PhaseBegun>();
            Run(1, 1);

            gating.Tell(new SaveModel(staging, WithOptimizer: true));
            var saved = ExpectMsg<ModelSaved>();
            double atSave = Evaluate();
            Run(1, 3);
            double later = Evaluate();
            gating.Tell(new RestoreModel(staging));
            ExpectMsg<ModelRestored>();

            int expertsPerLayer = Config.InitialExperts + Growth.ExpertsPerShift;
            Assert.Equal(expertsPerLayer + 1, saved.Files.Count);                       // every expert, and the trunk
            Assert.All(saved.Files.Values, f => Assert.True(File.Exists(Path.Combine(staging, f)), f));
            Assert.NotEqual(atSave, later);
            Assert.Equal(atSave, Evaluate());
            for (int e = 0; e < expertsPerLayer; e++)
            {
                experts.Tell(new GetExpertState(MoeTransformer.ExpertId(1, e)));
                var state = ExpectMsg<ExpertState>();
                Assert.Equal(e < Config.InitialExperts, state.Frozen);
                Assert.Equal(state.Frozen ? 0 : 1, state.Steps);                 // optimizer state as saved
            }
        }
        finally
        {
            TinyRun.Delete(staging);
        }
    }

    [Fact]
    public void Run_step_before_begin_phase_is_answered_with_a_failure()
    {
        var (gating, _, _) = StartGating();
        var batch = Phases()[0][0];

        gating.Tell(new RunStep(0, batch.Tokens, batch.BatchSize));

        var failure = ExpectMsg<Status.Failure>();
        Assert.Contains("BeginPhase", failure.Cause.Message);
    }
}
