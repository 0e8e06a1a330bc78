using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;

namespace LifelongMoE.Actors.Training;

/// <summary>
/// Everything a training run needs, bound from the <c>lifelong-moe</c> section of the HOCON configuration
/// (see hocon/base.hocon for every key and its meaning).
/// </summary>
public sealed record RunSettings
{
    public required ModelConfig Model { get; init; }
    public required TrainOptions Train { get; init; }
    public required GrowthOptions Growth { get; init; }

    /// <summary>Absolute path of the corpus manifest (HOCON).</summary>
    public required string CorpusManifest { get; init; }

    /// <summary>Distributions to train on, in stream order; empty means every one of the manifest, in its order.</summary>
    public IReadOnlyList<string> Distributions { get; init; } = Array.Empty<string>();

    public string Tokenizer { get; init; } = "bytes";
    public string Device { get; init; } = "cpu";
    public int Seed { get; init; } = 1234;

    /// <summary>Torch intra-op threads of this process; 0 leaves torch's default.</summary>
    public int Threads { get; init; } = 0;

    public int StepsPerPhase { get; init; } = 300;
    public int BatchSize { get; init; } = 16;
    public int ShuffleBlock { get; init; } = 256;

    public int EvalSequences { get; init; } = 64;
    public int EvalBatchSize { get; init; } = 16;

    /// <summary>Also write a checkpoint every this many steps of a phase; 0: only at its start and its end.</summary>
    public int CheckpointEvery { get; init; } = 0;

    /// <summary>
    /// Failures (an expert lost with its node, a request that failed or timed out) recovered from in one phase by
    /// rolling back to its last checkpoint; one more ends the run with the error.
    /// </summary>
    public int MaxRecoveriesPerPhase { get; init; } = 3;

    /// <summary>Output directory of the run (report, checkpoints, logs); absolute.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Time limit of one request to an expert; exceeding it is an error, never a silent hang.</summary>
    public TimeSpan ExpertTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time limit of one whole training step.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(120);

    public int SequenceLength => Model.ContextLength;
}
