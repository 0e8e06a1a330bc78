using LifelongMoE.Actors.Messages;
using MessagePack;
using MessagePack.Formatters;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Serialization;

/// <summary>Writes a tensor as [dtype, shape, raw little-endian bytes]; reads it back as a CPU tensor.</summary>
public sealed class TensorPayloadFormatter : IMessagePackFormatter<TensorPayload?>
{
    public static readonly TensorPayloadFormatter Instance = new();

    public void Serialize(ref MessagePackWriter writer, TensorPayload? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }
        TensorWire.Write(ref writer, value.Tensor);
    }

    public TensorPayload? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        return new TensorPayload(TensorWire.Read(ref reader));
    }
}

/// <summary>Writes named tensors as a map of name to tensor.</summary>
public sealed class TensorMapFormatter : IMessagePackFormatter<TensorMap?>
{
    public static readonly TensorMapFormatter Instance = new();

    public void Serialize(ref MessagePackWriter writer, TensorMap? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }
        writer.WriteMapHeader(value.Tensors.Count);
        foreach (var (name, t) in value.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            writer.Write(name);
            TensorWire.Write(ref writer, t);
        }
    }

    public TensorMap? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        int count = reader.ReadMapHeader();
        var map = new Dictionary<string, Tensor>(count);
        for (int i = 0; i < count; i++)
        {
            var name = reader.ReadString() ?? throw new MessagePackSerializationException("tensor name is nil");
            map[name] = TensorWire.Read(ref reader);
        }
        return new TensorMap(map);
    }
}

internal static class TensorWire
{
    /// <summary>The dtypes the wire carries, with their element sizes in bytes.</summary>
    private static readonly Dictionary<ScalarType, int> ElementSizes = new()
    {
        [ScalarType.Float32] = 4, [ScalarType.Float64] = 8, [ScalarType.Float16] = 2, [ScalarType.BFloat16] = 2,
        [ScalarType.Int64] = 8, [ScalarType.Int32] = 4, [ScalarType.Bool] = 1, [ScalarType.Byte] = 1,
    };

    private const int MaxRank = 8;

    public static void Write(ref MessagePackWriter writer, Tensor t)
    {
        if (!ElementSizes.ContainsKey(t.dtype))
            throw new MessagePackSerializationException($"tensor: dtype {t.dtype} is not carried by the wire format");
        using var cpu = t.detach().cpu().contiguous();
        writer.WriteArrayHeader(3);
        writer.Write((int)t.dtype);
        writer.WriteArrayHeader(t.shape.Length);
        foreach (var s in t.shape) writer.Write(s);
        writer.Write(cpu.bytes);
    }

    public static Tensor Read(ref MessagePackReader reader)
    {
        if (reader.ReadArrayHeader() != 3) throw new MessagePackSerializationException("tensor: expected 3 fields");
        var dtype = (ScalarType)reader.ReadInt32();
        if (!ElementSizes.TryGetValue(dtype, out int elementSize))
            throw new MessagePackSerializationException($"tensor: dtype {dtype} not allowed");
        int rank = reader.ReadArrayHeader();
        if (rank > MaxRank) throw new MessagePackSerializationException($"tensor: rank {rank} is too large (at most {MaxRank})");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            shape[i] = reader.ReadInt64();
            if (shape[i] < 0) throw new MessagePackSerializationException("tensor: negative dimension");
        }
        var bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException("tensor: no data");

        // Checked before allocating: a corrupt or hostile shape must not reach torch's allocator.
        if (bytes.Length != ByteCount(shape, elementSize))
            throw new MessagePackSerializationException(
                $"tensor: {bytes.Length} bytes for shape [{string.Join(",", shape)}] of {dtype}");
        var t = empty(shape, dtype: dtype);
        t.bytes = System.Buffers.BuffersExtensions.ToArray(bytes);
        return t;
    }

    /// <returns>the bytes of a tensor of that shape, or -1 when the count overflows</returns>
    private static long ByteCount(long[] shape, int elementSize)
    {
        try
        {
            long count = elementSize;
            foreach (var s in shape) count = checked(count * s);
            return count;
        }
        catch (OverflowException)
        {
            return -1;
        }
    }
}

/// <summary>Standard contract-based resolution plus the tensor formatters.</summary>
public static class MoeResolver
{
    public static readonly MessagePackSerializerOptions Options = MessagePackSerializerOptions.Standard
        .WithResolver(MessagePack.Resolvers.CompositeResolver.Create(
            new IMessagePackFormatter[] { TensorPayloadFormatter.Instance, TensorMapFormatter.Instance },
            new IFormatterResolver[] { MessagePack.Resolvers.StandardResolver.Instance }))
        .WithSecurity(MessagePackSecurity.UntrustedData);
}
