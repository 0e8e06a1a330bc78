using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw little-endian data. Files load in PyTorch with
/// <c>safetensors.torch.load_file</c>. Writes go to a temporary name, are flushed to disk, then renamed.
/// </summary>
public static class SafeTensors
{
    private static readonly Dictionary<ScalarType, string> DtypeNames = new()
    {
        [ScalarType.Float32] = "F32", [ScalarType.Float64] = "F64", [ScalarType.Float16] = "F16",
        [ScalarType.BFloat16] = "BF16", [ScalarType.Int64] = "I64", [ScalarType.Int32] = "I32",
        [ScalarType.Int16] = "I16", [ScalarType.Int8] = "I8", [ScalarType.Byte] = "U8", [ScalarType.Bool] = "BOOL",
    };

    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv =>
                KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));

        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var name in tensors.Keys.OrderBy(k => k, StringComparer.Ordinal))
        {
            var t = tensors[name];
            if (!DtypeNames.TryGetValue(t.dtype, out var dtype))
                throw new ArgumentException($"tensor '{name}' has dtype {t.dtype}, which safetensors does not store");
            byte[] bytes;
            using (NewDisposeScope()) bytes = t.detach().cpu().contiguous().bytes.ToArray();
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            blobs.Add(bytes);
            offset += bytes.Length;
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((ulong)padded));
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var b in blobs) stream.Write(b);
        });
    }

    public static Dictionary<string, Tensor> Load(string path, Device? device = null) => Load(path, out _, device);

    public static Dictionary<string, Tensor> Load(string path, out Dictionary<string, string> metadata,
        Device? device = null)
    {
        if (!File.Exists(path)) throw new CheckpointException(path, "file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new CheckpointException(path, "too short to be a safetensors file");
        ulong headerLen = BitConverter.ToUInt64(bytes, 0);
        if (headerLen > (ulong)bytes.Length - 8)
            throw new CheckpointException(path, $"header length {headerLen} exceeds the file size {bytes.Length}");

        JsonObject header;
        try
        {
            header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLen))!.AsObject();
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"header is not valid JSON ({e.Message})");
        }

        metadata = new Dictionary<string, string>();
        var result = new Dictionary<string, Tensor>();
        long dataStart = 8 + (long)headerLen;
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node!.AsObject()) metadata[k] = v!.GetValue<string>();
                continue;
            }
            result[name] = ReadTensor(path, bytes, dataStart, name, node!.AsObject(), device);
        }
        return result;
    }

    private static Tensor ReadTensor(string path, byte[] bytes, long dataStart, string name, JsonObject entry,
        Device? device)
    {
        var dtypeName = entry["dtype"]?.GetValue<string>();
        var dtype = DtypeNames.FirstOrDefault(kv => kv.Value == dtypeName);
        if (dtypeName is null || dtype.Value is null)
            throw new CheckpointException(path, $"tensor '{name}' has unsupported dtype '{dtypeName}'");
        var shape = entry["shape"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
        var offsets = entry["data_offsets"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
        long begin = dataStart + offsets[0], end = dataStart + offsets[1];

        var t = empty(shape, dtype: dtype.Key);
        long expected = t.numel() * t.ElementSize;
        if (end - begin != expected || end > bytes.Length || begin < dataStart)
            throw new CheckpointException(path,
                $"tensor '{name}' claims bytes [{offsets[0]}, {offsets[1]}) but needs {expected} bytes");
        t.bytes = bytes.AsSpan((int)begin, (int)(end - begin));
        if (device is null || device.type == DeviceType.CPU) return t;
        using (t) return t.to(device);
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}

/// <summary>A checkpoint file that is missing, truncated, corrupt or does not fit the model.</summary>
public sealed class CheckpointException(string path, string problem) : Exception($"{path}: {problem}")
{
    public string PathName { get; } = path;
}

/// <summary>Writes a file under a temporary name in the same directory, flushes it, then renames it.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));
}
