using LifelongMoE.Model.Training;

namespace LifelongMoE.Actors.Messages;

// Requests from the training loop to its gating actor. Both live in one process, so these carry plain
// objects and are never serialized.

/// <summary>Starts a phase of <see cref="Steps"/> steps; on a shift the lifelong strategy grows the model.</summary>
public sealed record BeginPhase(int Phase, int Steps, bool Shift);

public sealed record PhaseBegun(IReadOnlyList<string> AddedExperts, int ExpertsPerLayer);

/// <summary>One training step on a row-major (batch, sequence+1) batch of token ids.</summary>
public sealed record RunStep(long Step, long[] Tokens, int BatchSize);

public sealed record StepDone(long Step, StepResult Result);

/// <summary>Held-out loss on fixed sequences.</summary>
public sealed record EvaluateSequences(string Distribution, IReadOnlyList<long[]> Sequences, int BatchSize);

public sealed record Evaluated(string Distribution, double MeanLossNats);

/// <summary>Writes the trunk and every expert into a checkpoint staging directory.</summary>
public sealed record SaveModel(string StagingDirectory, bool WithOptimizer);

/// <summary>Checkpoint files written, relative to the staging directory, by expert id ("trunk" for the trunk).</summary>
public sealed record ModelSaved(IReadOnlyDictionary<string, string> Files);

/// <summary>Rolls the trunk and every expert back to a complete checkpoint.</summary>
public sealed record RestoreModel(string CheckpointDirectory);

public sealed record ModelRestored(string CheckpointDirectory);
