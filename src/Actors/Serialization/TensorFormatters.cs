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
    private static readonly ScalarType[] Allowed =
    {
        ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16,
        ScalarType.Int64, ScalarType.Int32, ScalarType.Bool, ScalarType.Byte,
    };

    public static void Write(ref MessagePackWriter writer, Tensor t)
    {
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
        if (!Allowed.Contains(dtype)) throw new MessagePackSerializationException($"tensor: dtype {dtype} not allowed");
        int rank = reader.ReadArrayHeader();
        if (rank > 8) throw new MessagePackSerializationException($"tensor: rank {rank} is too large");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            shape[i] = reader.ReadInt64();
            if (shape[i] < 0) throw new MessagePackSerializationException("tensor: negative dimension");
        }
        var bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException("tensor: no data");

        var t = empty(shape, dtype: dtype);
        if (bytes.Length != t.numel() * t.ElementSize)
        {
            t.Dispose();
            throw new MessagePackSerializationException(
                $"tensor: {bytes.Length} bytes for shape [{string.Join(",", shape)}] of {dtype}");
        }
        var data = System.Buffers.BuffersExtensions.ToArray(bytes);
        t.bytes = data;
        return t;
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
