namespace LifelongMoE.Actors.Training;

/// <summary>One phase of a run: one distribution, trained for a number of steps.</summary>
/// <param name="Experts">expert id (L{block}-E{expert}) -> its checkpoint file, relative to the output directory</param>
/// <param name="Checkpoint">the phase-end checkpoint directory, relative to the output directory</param>
public sealed record PhaseReport(
    string Name, string Distribution, int Steps, long Tokens, double Seconds, int ExpertsPerLayer,
    IReadOnlyDictionary<string, string> Experts, string Checkpoint, double FinalTrainLoss);

/// <summary>The result of a run: what report.json and report.md are written from.</summary>
/// <param name="Eval">phases x distributions: held-out bits per byte after each phase, for every distribution</param>
public sealed record RunReport(
    string Strategy,
    IReadOnlyList<string> Distributions,
    IReadOnlyList<PhaseReport> Phases,
    double[][] Eval,
    double TokensPerSecond,
    string Device,
    string Tokenizer,
    long Parameters,
    DateTime Started,
    double Seconds);

/// <summary>Published on the actor system's event stream after every step, for progress displays and logs.</summary>
public sealed record TrainingProgress(
    int Phase, int Phases, string Distribution, int Step, int StepsInPhase, double Loss, double CrossEntropy,
    double Distillation, double TokensPerSecond, TimeSpan Eta, int ExpertsPerLayer, long Dropped);

/// <summary>Published after each phase's evaluation: held-out bits per byte on every distribution.</summary>
public sealed record PhaseEvaluated(int Phase, string Distribution, IReadOnlyList<string> Distributions, double[] BitsPerByte);
