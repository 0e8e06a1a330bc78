using MessagePack;

namespace LifelongMoE.Actors.Messages;

// Operator control of a running job. Sent to the phase supervisor (a cluster singleton), possibly from another
// process (the CLI's status/pause/resume/checkpoint/stop verbs), so each is serializable.

[MessagePackObject]
public sealed record GetStatus : IMoeMessage;

[MessagePackObject]
public sealed record Pause : IMoeMessage;

[MessagePackObject]
public sealed record Resume : IMoeMessage;

/// <summary>Write a checkpoint after the current step.</summary>
[MessagePackObject]
public sealed record Checkpoint : IMoeMessage;

/// <summary>Stop after the current step, writing a checkpoint first.</summary>
[MessagePackObject]
public sealed record Stop : IMoeMessage;

/// <summary>End the current phase after the current step and move on to the next distribution.</summary>
[MessagePackObject]
public sealed record ShiftNow : IMoeMessage;

[MessagePackObject]
public sealed record StatusReport(
    [property: Key(0)] string State,
    [property: Key(1)] int Phase,
    [property: Key(2)] int Phases,
    [property: Key(3)] string Distribution,
    [property: Key(4)] int StepInPhase,
    [property: Key(5)] int StepsInPhase,
    [property: Key(6)] long GlobalStep,
    [property: Key(7)] double LastLoss,
    [property: Key(8)] double TokensPerSecond,
    [property: Key(9)] int ExpertsPerLayer,
    [property: Key(10)] string? LastCheckpoint) : IMoeMessage;

/// <summary>Acknowledges a control message, saying what it did.</summary>
[MessagePackObject]
public sealed record ControlAck([property: Key(0)] string What) : IMoeMessage;
