using System.Text;
using ZstdSharp;

namespace LifelongMoE.Model.Data;

/// <summary>Reads one corpus file line by line, decompressed, as strict UTF-8.</summary>
/// <remarks>
/// Every failure, whether found on opening or part way through, surfaces as a
/// <see cref="CorpusException"/> that names the file and the line being read.
/// </remarks>
internal sealed class CorpusFile : IDisposable
{
    private static readonly UTF8Encoding StrictUtf8 =
        new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly StreamReader _reader;
    private readonly Compression _compression;

    private CorpusFile(string path, Compression compression, StreamReader reader)
    {
        Path = path;
        _compression = compression;
        _reader = reader;
    }

    public string Path { get; }

    /// <summary>The 1-based number of the line <see cref="ReadLine"/> returned last.</summary>
    public long LineNumber { get; private set; }

    public static CorpusFile Open(string path, Compression compression)
    {
        compression = Resolve(compression, path);
        if (!File.Exists(path))
            throw new CorpusException(path, Directory.Exists(path) ? "is a directory, not a file" : "file not found");

        FileStream? file = null;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var stream = Decompress(file, compression);
            return new CorpusFile(path, compression, new StreamReader(stream, StrictUtf8, true, 1 << 16));
        }
        catch (Exception e) when (IsReadFailure(e))
        {
            file?.Dispose();
            throw new CorpusException(path, $"cannot open as {Describe(compression)}: {e.Message}", null, e);
        }
    }

    /// <summary>Resolves <see cref="Compression.Auto"/> from the file's extension.</summary>
    public static Compression Resolve(Compression compression, string path)
    {
        if (compression != Compression.Auto) return compression;

        var extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".gz" => Compression.Gzip,
            ".zst" or ".zstd" => Compression.Zstd,
            _ => Compression.None,
        };
    }

    /// <summary>The next line without its line ending, or null at the end of the file.</summary>
    public string? ReadLine()
    {
        string? line;
        try
        {
            line = _reader.ReadLine();
        }
        catch (Exception e) when (IsReadFailure(e))
        {
            var problem = e is DecoderFallbackException
                ? "text is not valid UTF-8"
                : $"cannot read {Describe(_compression)} data (corrupt or truncated file?): {e.Message}";
            throw new CorpusException(Path, problem, LineNumber + 1, e);
        }

        if (line is not null) LineNumber++;
        return line;
    }

    public void Dispose() => _reader.Dispose();

    private static Stream Decompress(FileStream file, Compression compression) => compression switch
    {
        Compression.Gzip => GzipCheckedStream.Open(file),
        Compression.Zstd => new DecompressionStream(file),
        _ => file,
    };

    private static string Describe(Compression compression) => compression switch
    {
        Compression.Gzip => "gzip",
        Compression.Zstd => "zstd",
        _ => "uncompressed text",
    };

    // EndOfStreamException (a truncated zstd frame) is an IOException.
    private static bool IsReadFailure(Exception e) =>
        e is IOException or InvalidDataException or ZstdException or DecoderFallbackException
            or UnauthorizedAccessException;
}
