using LifelongMoE.Model.Training;
using MessagePack;

namespace LifelongMoE.Actors.Messages;

// Requests to one expert entity, and their replies. A failure is replied as Akka's Status.Failure.

/// <summary>Gives an expert its weights (ownership passes) and its optimizer settings.</summary>
[MessagePackObject]
public sealed record InitExpert(
    [property: Key(0)] string ExpertId,
    [property: Key(1)] TensorMap Weights,
    [property: Key(2)] bool Frozen,
    [property: Key(3)] AdamWSettings Adam,
    [property: Key(4)] string Device) : IExpertMessage;

/// <summary>AdamW settings in serializable form.</summary>
[MessagePackObject]
public sealed record AdamWSettings(
    [property: Key(0)] double Beta1, [property: Key(1)] double Beta2,
    [property: Key(2)] double Eps, [property: Key(3)] double WeightDecay)
{
    public static AdamWSettings From(AdamWOptions o) => new(o.Beta1, o.Beta2, o.Eps, o.WeightDecay);

    public AdamWOptions ToOptions() => new(Beta1, Beta2, Eps, WeightDecay);
}

/// <summary>
/// The tokens routed to this expert, (tokens, d_model). With <see cref="KeepGraph"/> the expert keeps the
/// autograd graph until the matching <see cref="ExpertBackward"/>; teacher and evaluation passes do not.
/// </summary>
[MessagePackObject]
public sealed record ExpertForward(
    [property: Key(0)] string ExpertId,
    [property: Key(1)] StepKey Key,
    [property: Key(2)] TensorPayload Input,
    [property: Key(3)] bool KeepGraph) : IExpertMessage;

/// <summary>The expert's output for the tokens of an <see cref="ExpertForward"/>, (tokens, d_model).</summary>
[MessagePackObject]
public sealed record ExpertForwardDone(
    [property: Key(0)] string ExpertId,
    [property: Key(1)] StepKey Key,
    [property: Key(2)] TensorPayload Output) : IMoeMessage;

/// <summary>The gradient of the loss with respect to this expert's outputs of that step and layer.</summary>
[MessagePackObject]
public sealed record ExpertBackward(
    [property: Key(0)] string ExpertId,
    [property: Key(1)] StepKey Key,
    [property: Key(2)] TensorPayload OutputGrad) : IExpertMessage;

/// <summary>
/// The gradient with respect to the expert's inputs, and the squared norm of the expert's accumulated
/// parameter gradients (0 when frozen), for global-norm clipping.
/// </summary>
[MessagePackObject]
public sealed record ExpertBackwardDone(
    [property: Key(0)] string ExpertId,
    [property: Key(1)] StepKey Key,
    [property: Key(2)] TensorPayload InputGrad,
    [property: Key(3)] double SquaredGradNorm) : IMoeMessage;

/// <summary>
/// Optimizer step with the learning rate and the clipping scale from the global norm. Every trainable expert
/// receives it each step, whether or not it received tokens; frozen experts ignore it.
/// </summary>
[MessagePackObject]
public sealed record ApplyStep(
    [property: Key(0)] string ExpertId,
    [property: Key(1)] long Step,
    [property: Key(2)] double LearningRate,
    [property: Key(3)] double GradScale) : IExpertMessage;

[MessagePackObject]
public sealed record StepApplied(
    [property: Key(0)] string ExpertId, [property: Key(1)] long Step, [property: Key(2)] bool Moved) : IMoeMessage;

/// <summary>Stops the expert's gradients and drops its optimizer state; it will never move again.</summary>
[MessagePackObject]
public sealed record FreezeExpert([property: Key(0)] string ExpertId) : IExpertMessage;

/// <summary>
/// Writes the expert's weights as safetensors at <see cref="Path"/> (and its optimizer state beside).
/// </summary>
[MessagePackObject]
public sealed record SaveExpert(
    [property: Key(0)] string ExpertId, [property: Key(1)] string Path, [property: Key(2)] bool WithOptimizer)
    : IExpertMessage;

[MessagePackObject]
public sealed record ExpertSaved([property: Key(0)] string ExpertId, [property: Key(1)] string Path) : IMoeMessage;

/// <summary>Replaces the expert's weights (and optimizer state, if saved) from a checkpoint file.</summary>
[MessagePackObject]
public sealed record RestoreExpert(
    [property: Key(0)] string ExpertId,
    [property: Key(1)] string Path,
    [property: Key(2)] bool Frozen,
    [property: Key(3)] AdamWSettings Adam,
    [property: Key(4)] string Device) : IExpertMessage;

/// <summary>Asks for a copy of the expert's weights.</summary>
[MessagePackObject]
public sealed record GetExpertWeights([property: Key(0)] string ExpertId) : IExpertMessage;

[MessagePackObject]
public sealed record ExpertWeights([property: Key(0)] string ExpertId, [property: Key(1)] TensorMap Weights)
    : IMoeMessage;

/// <summary>Asks whether the expert holds weights, and whether it is frozen.</summary>
[MessagePackObject]
public sealed record GetExpertState([property: Key(0)] string ExpertId) : IExpertMessage;

[MessagePackObject]
public sealed record ExpertState(
    [property: Key(0)] string ExpertId, [property: Key(1)] bool Initialised, [property: Key(2)] bool Frozen,
    [property: Key(3)] long Steps, [property: Key(4)] int PendingGraphs) : IMoeMessage;
