using System.Collections.Immutable;
using MessagePack;

namespace LifelongMoE.Actors.Supervision;

// The phase supervisor's journal: events persisted in SQLite, replayed on restart.

/// <summary>A phase began on a distribution, with this many experts per MoE layer.</summary>
[MessagePackObject]
public sealed record PhaseStarted(
    [property: Key(0)] int Phase,
    [property: Key(1)] string Distribution,
    [property: Key(2)] int ExpertsPerLayer,
    [property: Key(3)] IReadOnlyList<string> AddedExperts) : Messages.IMoeMessage;

/// <summary>A complete checkpoint was committed.</summary>
[MessagePackObject]
public sealed record CheckpointCommitted(
    [property: Key(0)] int Phase,
    [property: Key(1)] long Step,
    [property: Key(2)] string Path,
    [property: Key(3)] bool PhaseEnd) : Messages.IMoeMessage;

/// <summary>A phase finished: its evaluation row (held-out bits per byte on every distribution) and its report.</summary>
[MessagePackObject]
public sealed record PhaseCompleted(
    [property: Key(0)] int Phase,
    [property: Key(1)] string Distribution,
    [property: Key(2)] double[] BitsPerByte,
    [property: Key(3)] string ReportJson) : Messages.IMoeMessage;

/// <summary>
/// A failure was recovered from (an expert lost with its node, a request that failed or timed out): the model, the
/// data cursor and the step counters went back to <see cref="Checkpoint"/>, a checkpoint of the phase (or, before the
/// phase had one, the previous phase's end, null for the run's start), and training went on from
/// <see cref="RestoredStep"/>. <see cref="Attempt"/> counts the phase's recoveries, this one included.
/// </summary>
[MessagePackObject]
public sealed record RunRecovered(
    [property: Key(0)] int Phase,
    [property: Key(1)] long FailedAtStep,
    [property: Key(2)] long RestoredStep,
    [property: Key(3)] string? Checkpoint,
    [property: Key(4)] int Attempt,
    [property: Key(5)] string Cause) : Messages.IMoeMessage;

[MessagePackObject]
public sealed record RunFinished([property: Key(0)] bool Completed, [property: Key(1)] string? Error)
    : Messages.IMoeMessage;

/// <summary>Everything the supervisor knows of the run, rebuilt from the journal on restart.</summary>
public sealed record PhaseLog(
    ImmutableList<PhaseStarted> Started,
    ImmutableList<PhaseCompleted> Completed,
    ImmutableList<CheckpointCommitted> Checkpoints,
    RunFinished? Finished)
{
    public static PhaseLog Empty { get; } = new(ImmutableList<PhaseStarted>.Empty,
        ImmutableList<PhaseCompleted>.Empty, ImmutableList<CheckpointCommitted>.Empty, null);

    /// <summary>The distributions seen so far, in order.</summary>
    public IEnumerable<string> DistributionsSeen => Started.Select(s => s.Distribution);

    /// <summary>Phases completed so far; a resumed run goes on with the phase of this index.</summary>
    public int CompletedPhases => Completed.Count;

    public CheckpointCommitted? LastPhaseEndCheckpoint => Checkpoints.LastOrDefault(c => c.PhaseEnd);

    /// <summary>Failures recovered from by rolling back to a checkpoint, oldest first.</summary>
    public ImmutableList<RunRecovered> Recoveries { get; init; } = ImmutableList<RunRecovered>.Empty;

    public PhaseLog Apply(object e) => e switch
    {
        PhaseStarted s => this with { Started = Started.RemoveAll(p => p.Phase >= s.Phase).Add(s) },
        PhaseCompleted c => this with { Completed = Completed.RemoveAll(p => p.Phase >= c.Phase).Add(c) },
        CheckpointCommitted k => this with { Checkpoints = Checkpoints.Add(k) },
        RunRecovered r => this with { Recoveries = Recoveries.Add(r) },
        RunFinished f => this with { Finished = f },
        _ => this,
    };
}
