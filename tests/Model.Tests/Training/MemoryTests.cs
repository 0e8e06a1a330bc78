using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Training;

/// <summary>Training does not accumulate live tensors: every step releases everything it made.</summary>
[Collection(SerialTorchCollection.Name)]
public class MemoryTests
{
    [Fact]
    public void Live_tensor_count_is_the_same_after_step_50_and_after_step_200()
    {
        var config = TinyModels.Config(capacityFactor: 1.0);
        using var model = TinyModels.Model(config, 1);
        using var trainer = new InProcessTrainer(model, new TrainOptions(LearningRate: 1e-3, WarmupSteps: 5));
        using var gen = new Generator(2);
        // A shift first, so the teacher's forward pass and distillation loss run in every step too.
        trainer.BeginPhase(200, shift: true, new GrowthOptions(), gen);
        // The count is per thread, so tests running on other threads cannot disturb it.
        long LiveTensors() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        long atStep50 = 0;
        for (int step = 1; step <= 200; step++)
        {
            trainer.Step(TinyModels.CountingTokens(4, config.ContextLength, config.VocabSize, step), 4);
            if (step == 50) atStep50 = LiveTensors();
        }

        Assert.True(atStep50 > 0);
        Assert.Equal(atStep50, LiveTensors());
    }

    [Fact]
    public void Evaluation_leaves_no_live_tensors_behind()
    {
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config, 3);
        using var trainer = new InProcessTrainer(model, new TrainOptions());
        var sequences = Enumerable.Range(0, 10)
            .Select(i => TinyModels.CountingTokens(1, config.ContextLength, config.VocabSize, i)).ToList();
        trainer.Evaluate(sequences, 4);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        for (int i = 0; i < 5; i++) trainer.Evaluate(sequences, 4);

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
