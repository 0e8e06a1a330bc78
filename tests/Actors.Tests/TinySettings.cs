using LifelongMoE.Actors.Training;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;

namespace LifelongMoE.Actors.Tests;

/// <summary>Run settings for a model small enough that a spec trains several phases in seconds.</summary>
public static class TinySettings
{
    public static RunSettings Create(string outputDirectory, int stepsPerPhase, params string[] distributions) => new()
    {
        Model = new ModelConfig(VocabSize: 256, ContextLength: 16, DModel: 16, NumHeads: 2, NumLayers: 2, DFf: 32,
            MoeEvery: 2, InitialExperts: 2, TopK: 2),
        Train = new TrainOptions(LearningRate: 3e-3, WarmupSteps: 2),
        Growth = new GrowthOptions(ExpertsPerShift: 1),
        CorpusManifest = Path.Combine(TestCorpus.RepositoryRoot, "data", "manifest.hocon"),
        Distributions = distributions,
        StepsPerPhase = stepsPerPhase,
        BatchSize = 4,
        ShuffleBlock = 16,
        EvalSequences = 2,
        EvalBatchSize = 2,
        OutputDirectory = outputDirectory,
        ExpertTimeout = TimeSpan.FromSeconds(20),
        StepTimeout = TimeSpan.FromSeconds(60),
    };

    public static string TempDirectory(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "lifelongmoe-specs", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
