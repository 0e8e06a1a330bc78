using System.IO.Compression;
using System.Text;
using System.Text.Json;
using LifelongMoE.Model.Data;
using ZstdSharp;

namespace LifelongMoE.Model.Tests.Data;

/// <summary>A temporary folder of corpus files written by a test, deleted on dispose.</summary>
public sealed class TempCorpus : IDisposable
{
    public TempCorpus()
    {
        Folder = Path.Combine(Path.GetTempPath(), "lifelongmoe-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public static string JsonLines(IEnumerable<string> texts) =>
        string.Concat(texts.Select((t, i) =>
             JsonSerializer.Serialize(new { id = $"doc-{i}", text = t }) + "\n"));

    /// <summary>Writes <paramref name="content"/> as UTF-8, compressed as the name's extension says.</summary>
    public string Write(string name, string content) =>
        WriteBytes(name, Compress(Encoding.UTF8.GetBytes(content), Path.GetExtension(name)));

    /// <summary>Writes <paramref name="content"/> as it is.</summary>
    public string WriteBytes(string name, byte[] content)
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    public static DistributionSpec Spec(
        IReadOnlyList<string> files, CorpusFormat format = CorpusFormat.JsonLines,
        Compression compression = Compression.Auto, DocumentSplit? split = null, string name = "test") =>
        new(name, files, format, "text", compression, split ?? DocumentSplit.Line);

    public static byte[] Compress(byte[] content, string extension)
    {
        if (extension == ".gz")
        {
            var buffer = new MemoryStream();
            using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal)) gzip.Write(content);
            return buffer.ToArray();
        }

        if (extension == ".zst")
        {
            using var compressor = new Compressor(3);
            return compressor.Wrap(content).ToArray();
        }

        return content;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless; failing the test over it is not.
        }
    }
}
