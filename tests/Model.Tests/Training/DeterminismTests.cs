using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Training;

/// <summary>The in-process trainer is the reference for the actor pipeline, so a seed must fix every bit.</summary>
[Collection(SerialTorchCollection.Name)]
public class DeterminismTests
{
    [Fact]
    public void Two_runs_from_the_same_seed_give_bitwise_identical_losses()
    {
        var first = Run(seed: 7);
        var second = Run(seed: 7);

        Assert.Equal(10, first.Count);
        for (int i = 0; i < first.Count; i++)
            Assert.Equal(BitConverter.DoubleToInt64Bits(first[i]), BitConverter.DoubleToInt64Bits(second[i]));
    }

    [Fact]
    public void A_different_seed_gives_different_losses()
    {
        // Without this, a trainer that ignored its weights entirely would pass the test above.
        Assert.NotEqual(Run(seed: 7), Run(seed: 8));
    }

    // Five steps, a shift with growth and distillation, five more.
    private static List<double> Run(long seed)
    {
        var config = TinyModels.Config(capacityFactor: 1.25);
        manual_seed(seed);
        using var model = new MoeTransformer(config);
        using var trainer = new InProcessTrainer(model, new TrainOptions(LearningRate: 3e-3, WarmupSteps: 2));
        using var gen = new Generator(99);
        var losses = new List<double>();
        trainer.BeginPhase(5, shift: false, new GrowthOptions(), gen);
        for (int step = 0; step < 5; step++)
            losses.Add(trainer.Step(TinyModels.Tokens(4, config.ContextLength, config.VocabSize, step), 4).Loss);
        trainer.BeginPhase(5, shift: true, new GrowthOptions(), gen);
        for (int step = 5; step < 10; step++)
            losses.Add(trainer.Step(TinyModels.Tokens(4, config.ContextLength, config.VocabSize, step), 4).Loss);
        return losses;
    }
}
