using LifelongMoE.Actors.Training;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;

namespace LifelongMoE.Actors.Tests;

/// <summary>Run settings of a model small enough that a spec trains a few phases on the shipped corpora in seconds.</summary>
public static class TinyRun
{
    public static RunSettings Settings(string outputDirectory, params string[] distributions) => new()
    {
        Model = new ModelConfig(VocabSize: 256, ContextLength: 16, DModel: 16, NumHeads: 2, NumLayers: 2, DFf: 32,
            MoeEvery: 2, InitialExperts: 2, TopK: 1),
        Train = new TrainOptions(LearningRate: 3e-3, WarmupSteps: 1, DistillLambda: 0.5),
        Growth = new GrowthOptions(ExpertsPerShift: 2),
        CorpusManifest = Path.Combine(TestCorpus.RepositoryRoot, "data", "manifest.hocon"),
        Distributions = distributions,
        Seed = 77,
        StepsPerPhase = 5,
        BatchSize = 2,
        ShuffleBlock = 16,
        EvalSequences = 2,
        EvalBatchSize = 2,
        OutputDirectory = outputDirectory,
        ExpertTimeout = TimeSpan.FromSeconds(20),
        StepTimeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>A fresh directory under the system's temp folder, for one spec's files.</summary>
    public static string TempDirectory(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "lmoe-actors-specs", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void Delete(string directory)
    {
        // SQLite may still be closing a journal file of an actor system that just terminated: a few tries.
        for (int attempt = 1; Directory.Exists(directory); attempt++)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException) when (attempt < 5)
            {
                Thread.Sleep(100 * attempt);
            }
            catch (IOException)
            {
                return;                                                               // the temp folder is cleaned eventually
            }
        }
    }
}
