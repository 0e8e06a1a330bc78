using static TorchSharp.torch;

namespace LifelongMoE.Actors.Messages;

/// <summary>
/// A tensor inside a message. In one process it is the tensor itself and ownership passes with the message:
/// the sender must not use or dispose it after sending, the receiver disposes it. Across processes the
/// serializer writes dtype, shape and the raw bytes, and the receiver gets a fresh CPU tensor.
/// </summary>
public sealed class TensorPayload
{
    public TensorPayload(Tensor tensor)
    {
        Tensor = tensor;
    }

    public Tensor Tensor { get; }

    /// <summary>Wraps a detached copy taken out of every dispose scope, so the receiver owns it alone.</summary>
    public static TensorPayload Own(Tensor t) => new(t.detach().clone().DetachFromDisposeScope());

    /// <summary>The tensor on <paramref name="device"/>; the payload's own tensor is disposed if it had to move.</summary>
    public Tensor On(Device device)
    {
        if (Tensor.device == device) return Tensor;
        var moved = Tensor.to(device);
        Tensor.Dispose();
        return moved;
    }

    public override string ToString() => $"Tensor[{string.Join("x", Tensor.shape)}, {Tensor.dtype}]";
}

/// <summary>Named tensors, e.g. one expert's weights (fc1.weight, fc1.bias, ...).</summary>
public sealed class TensorMap
{
    public TensorMap(IReadOnlyDictionary<string, Tensor> tensors)
    {
        Tensors = tensors;
    }

    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    public static TensorMap Own(IReadOnlyDictionary<string, Tensor> tensors) =>
        new(tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope()));

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}
