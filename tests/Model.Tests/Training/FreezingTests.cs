using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Training;

/// <summary>After a shift, old experts and old router blocks keep their exact bits while the rest trains.</summary>
[Collection(SerialTorchCollection.Name)]
public class FreezingTests
{
    [Fact]
    public void Twenty_steps_after_growth_leave_frozen_tensors_bitwise_equal_and_train_the_rest()
    {
        var config = TinyModels.Config(moeEvery: 1);
        using var model = TinyModels.Model(config, 1);
        using var trainer = new InProcessTrainer(model, new TrainOptions(LearningRate: 1e-2, WarmupSteps: 0));
        using var gen = new Generator(2);
        trainer.BeginPhase(5, shift: false, new GrowthOptions(), gen);
        for (int step = 0; step < 5; step++)
            trainer.Step(TinyModels.CountingTokens(8, config.ContextLength, config.VocabSize, step), 8);
        var beforeShift = TinyModels.Snapshot(model);

        trainer.BeginPhase(20, shift: true, new GrowthOptions(ExpertsPerShift: 2), gen);
        var afterGrowth = TinyModels.Snapshot(model);
        for (int step = 0; step < 20; step++)
            trainer.Step(TinyModels.CountingTokens(8, config.ContextLength, config.VocabSize, 100 + step), 8);
        var after = TinyModels.Snapshot(model);

        var frozen = beforeShift.Keys.Where(n => n.Contains(".moe.")).ToList();
        Assert.Equal(2 * (1 + 4 * 4), frozen.Count);                       // two layers: router block 0, 4 experts
        foreach (var name in frozen) Assert.True(beforeShift[name].AsSpan().SequenceEqual(after[name]), name);
        Assert.All(model.MoeLayers.SelectMany(l => l.Layer.Experts.Take(4)), e => Assert.True(e.Frozen));

        var grown = after.Keys.Where(n => n.Contains(".router.blocks.1.") || IsNewExpert(n)).ToList();
        Assert.Equal(2 * (1 + 2 * 4), grown.Count);
        foreach (var name in grown.Where(n => n.EndsWith(".weight")))
            Assert.False(afterGrowth[name].AsSpan().SequenceEqual(after[name]), $"{name} did not train");

        var trunk = beforeShift.Keys.Where(n => !n.Contains(".moe.")).ToList();
        var trained = trunk.Where(n => n.Contains("c_attn.weight") || n == "wte.weight" || n == "lm_head.weight");
        foreach (var name in trained)
            Assert.False(beforeShift[name].AsSpan().SequenceEqual(after[name]), $"{name} did not train");
    }

    private static bool IsNewExpert(string name) => name.Contains(".experts.4.") || name.Contains(".experts.5.");
}
