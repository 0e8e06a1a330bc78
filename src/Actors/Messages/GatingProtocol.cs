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

/// <summary>
/// Checkpoint files written, relative to the staging directory, by expert id ("trunk" for the trunk); the steps
/// taken in the phase (the learning-rate schedule's position) and the frozen experts, for the checkpoint's state.
/// </summary>
public sealed record ModelSaved(IReadOnlyDictionary<string, string> Files, int PhaseStep = 0,
    IReadOnlyList<string>? Frozen = null);

/// <summary>
/// Rolls the trunk (weights, and AdamW state where the checkpoint has it) and every expert (weights and optimizer
/// state) back to a complete checkpoint of the current phase. <see cref="PhaseStep"/> restores the schedule's
/// position; <see cref="Frozen"/>, when given, must be the frozen set of the phase, or the checkpoint is of another.
/// </summary>
public sealed record RestoreModel(string CheckpointDirectory, int? PhaseStep = null,
    IReadOnlyCollection<string>? Frozen = null);

public sealed record ModelRestored(string CheckpointDirectory);
