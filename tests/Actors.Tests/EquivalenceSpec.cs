using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Gating;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// The actor pipeline (trunk in a gating engine, every expert an actor) must compute the same training run as the
/// in-process reference trainer: same losses step by step, before and after a growth step.
/// </summary>
public class EquivalenceSpec : TestKit
{
    private static readonly ModelConfig Config = new(VocabSize: 256, ContextLength: 32, DModel: 32, NumHeads: 2,
        NumLayers: 4, DFf: 64, MoeEvery: 2, InitialExperts: 4, TopK: 2);

    private static readonly TrainOptions Train = new(LearningRate: 3e-3, WarmupSteps: 5, DistillLambda: 0.5);
    private static readonly GrowthOptions Growth = new(ExpertsPerShift: 2, NoiseStd: 0.01);

    private readonly ITestOutputHelper output;

    public EquivalenceSpec(ITestOutputHelper output) : base(output: output)
    {
        this.output = output;
    }

    [Fact]
    public void Actor_pipeline_matches_in_process_trainer_for_30_steps_across_a_growth()
    {
        var phase1 = TestCorpus.Batches("fiction", 15, 4, Config.ContextLength);
        var phase2 = TestCorpus.Batches("legal", 15, 4, Config.ContextLength);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reference = RunInProcess(phase1, phase2);
        output.WriteLine($"in-process: {clock.ElapsedMilliseconds} ms");
        clock.Restart();
        var actors = RunActors(phase1, phase2);
        output.WriteLine($"actors: {clock.ElapsedMilliseconds} ms");

        Assert.Equal(30, actors.Count);
        for (int i = 0; i < 30; i++)
        {
            output.WriteLine($"step {i}: in-process {reference[i].Loss:F6}  actors {actors[i].Loss:F6}");
            Assert.True(Math.Abs(reference[i].Loss - actors[i].Loss) < 1e-4,
                $"step {i}: in-process loss {reference[i].Loss} vs actors {actors[i].Loss}");
            Assert.Equal(reference[i].Dropped, actors[i].Dropped);
        }
        Assert.True(actors[15].Distillation > 0 || actors[16].Distillation > 0, "distillation is active after growth");
    }

    private static MoeTransformer Build()
    {
        manual_seed(11);
        return new MoeTransformer(Config);
    }

    private static List<StepResult> RunInProcess(List<Model.Data.TokenBatch> phase1, List<Model.Data.TokenBatch> phase2)
    {
        using var model = Build();
        using var trainer = new InProcessTrainer(model, Train);
        var generator = new Generator(99);
        var results = new List<StepResult>();
        trainer.BeginPhase(15, shift: false, Growth, generator);
        results.AddRange(phase1.Select(b => trainer.Step(b.Tokens, b.BatchSize)));
        trainer.BeginPhase(15, shift: true, Growth, generator);
        results.AddRange(phase2.Select(b => trainer.Step(b.Tokens, b.BatchSize)));
        return results;
    }

    private List<StepResult> RunActors(List<Model.Data.TokenBatch> phase1, List<Model.Data.TokenBatch> phase2)
    {
        var host = Sys.ActorOf(LocalExpertHost.Props(), "experts");
        var channel = new AskExpertChannel(host, TimeSpan.FromSeconds(30), CPU, AdamWSettings.From(Train.AdamOptions));
        var model = Build();
        using var engine = new GatingEngine(model, Train, channel, CPU);
        var generator = new Generator(99);
        var results = new List<StepResult>();
        long step = 0;
        engine.BeginPhase(15, shift: false, Growth, generator);
        results.AddRange(phase1.Select(b => engine.Step(step++, b.Tokens, b.BatchSize)));
        engine.BeginPhase(15, shift: true, Growth, generator);
        results.AddRange(phase2.Select(b => engine.Step(step++, b.Tokens, b.BatchSize)));
        model.Dispose();
        return results;
    }
}
