namespace LifelongMoE.Actors.Messages;

/// <summary>
/// Marker of every message of the pipeline. base.hocon binds it to the MessagePack serializer, so any of them
/// can cross process boundaries; within one process they are passed by reference and never serialized.
/// </summary>
public interface IMoeMessage;

/// <summary>
/// A message addressed to one expert entity; the sharding extractor routes on <see cref="ExpertId"/>.
/// </summary>
public interface IExpertMessage : IMoeMessage
{
    string ExpertId { get; }
}

/// <summary>
/// Identifies the step, micro-batch and MoE layer (block index) a request belongs to, so late or duplicated
/// replies are recognised and dropped.
/// </summary>
[MessagePack.MessagePackObject]
public sealed record StepKey(
    [property: MessagePack.Key(0)] long Step,
    [property: MessagePack.Key(1)] int MicroBatch,
    [property: MessagePack.Key(2)] int Layer)
{
    public override string ToString() => $"step {Step}, micro-batch {MicroBatch}, layer {Layer}";
}

/// <summary>A generic positive reply.</summary>
[MessagePack.MessagePackObject]
public sealed record Ack([property: MessagePack.Key(0)] string From) : IMoeMessage;
