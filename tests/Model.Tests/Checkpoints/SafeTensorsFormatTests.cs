using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LifelongMoE.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Checkpoints;

/// <summary>
/// The files are safetensors as PyTorch's reader expects them, checked with a reader written here from the
/// format's definition: u64 little-endian header size, a JSON header, then the tensors' bytes back to back.
/// </summary>
public sealed class SafeTensorsFormatTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"lmoe-st-{Guid.NewGuid():N}");

    public SafeTensorsFormatTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Dictionary<string, Tensor> Sample(Generator gen) => new()
    {
        ["fc1.weight"] = randn(new long[] { 5, 3 }, generator: gen),
        ["fc1.bias"] = randn(new long[] { 5 }, generator: gen),
        ["a.double"] = randn(new long[] { 2, 2, 2 }, dtype: float64, generator: gen),
        ["step"] = tensor(new long[] { 42 }),
        ["mask"] = tensor(new[] { true, false, true }),
        ["scalar"] = tensor(1.5f),
        ["half"] = randn(new long[] { 3 }, generator: gen).to(ScalarType.BFloat16),
    };

    [Fact]
    public void Tensors_load_back_with_identical_dtype_shape_bytes_and_metadata()
    {
        using var scope = NewDisposeScope();
        var tensors = Sample(new Generator(1));
        var path = Path.Combine(dir, "sample.safetensors");
        var metadata = new Dictionary<string, string> { ["config"] = "{\"a\":1}", ["phase"] = "2" };

        SafeTensors.Save(path, tensors, metadata);
        var loaded = SafeTensors.Load(path, out var loadedMetadata);

        Assert.Equal(tensors.Keys.Order(), loaded.Keys.Order());
        foreach (var (name, t) in tensors)
            Assert.True(TinyModels.Identical(t, loaded[name]), name);
        Assert.Equal(metadata, loadedMetadata);
    }

    [Fact]
    public void The_header_is_what_the_python_safetensors_reader_expects()
    {
        using var scope = NewDisposeScope();
        var tensors = Sample(new Generator(2));
        var path = Path.Combine(dir, "layout.safetensors");
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var file = File.ReadAllBytes(path);

        ulong headerSize = BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0, (8 + (long)headerSize) % 8);
        var headerText = Encoding.UTF8.GetString(file, 8, (int)headerSize);
        Assert.StartsWith("{", headerText);
        Assert.True(headerText.TrimEnd(' ').EndsWith('}'), "only spaces may pad the header");
        using var header = JsonDocument.Parse(headerText);
        var data = file.AsSpan(8 + (int)headerSize);

        var entries = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
            .Select(p => (p.Name, Dtype: p.Value.GetProperty("dtype").GetString()!,
                Shape: p.Value.GetProperty("shape").EnumerateArray().Select(s => s.GetInt64()).ToArray(),
                Begin: p.Value.GetProperty("data_offsets")[0].GetInt64(),
                End: p.Value.GetProperty("data_offsets")[1].GetInt64()))
            .OrderBy(e => e.Begin).ToList();
        Assert.Equal("pt", header.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());
        Assert.Equal(tensors.Count, entries.Count);

        var dtypes = new Dictionary<ScalarType, (string Name, int Size)>
        {
            [ScalarType.Float32] = ("F32", 4), [ScalarType.Float64] = ("F64", 8), [ScalarType.Int64] = ("I64", 8),
            [ScalarType.Bool] = ("BOOL", 1), [ScalarType.BFloat16] = ("BF16", 2),
        };
        long expectedBegin = 0;
        foreach (var e in entries)
        {
            var t = tensors[e.Name];
            // The buffer is covered exactly, each tensor starting where the previous one ended.
            Assert.Equal(expectedBegin, e.Begin);
            Assert.Equal(dtypes[t.dtype].Name, e.Dtype);
            Assert.Equal(t.shape, e.Shape);
            Assert.Equal(t.numel() * dtypes[t.dtype].Size, e.End - e.Begin);
            Assert.True(data.Slice((int)e.Begin, (int)(e.End - e.Begin)).SequenceEqual(TinyModels.Bytes(t)), e.Name);
            expectedBegin = e.End;
        }
        Assert.Equal(data.Length, expectedBegin);
    }

    [Fact]
    public void Float32_values_are_stored_little_endian_in_row_major_order()
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(dir, "values.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["w"] = tensor(new[] { 1f, -2.5f, 3.25f, 1e-3f, 7f, -0f }, new long[] { 2, 3 }),
        });
        var file = File.ReadAllBytes(path);
        int start = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(file);

        var values = Enumerable.Range(0, 6)
            .Select(i => BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(start + 4 * i))).ToArray();

        Assert.Equal(new[] { 1f, -2.5f, 3.25f, 1e-3f, 7f, -0f }, values);
        Assert.Equal(start + 24, file.Length);
    }

    [Fact]
    public void A_truncated_file_is_reported_with_its_path()
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(dir, "cut.safetensors");
        SafeTensors.Save(path, Sample(new Generator(3)));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);

        var error = Assert.Throws<CheckpointException>(() => SafeTensors.Load(path));

        Assert.Contains("cut.safetensors", error.Message);
    }
}
