using System.Buffers.Binary;
using System.IO.Compression;

namespace LifelongMoE.Model.Data;

/// <summary>
/// Decompresses gzip and, at the end, checks the CRC-32 and length the gzip trailer records.
/// <see cref="GZipStream"/> alone reports a truncated file as a clean, shorter end of data.
/// </summary>
/// <remarks>
/// Known shortcoming: the check compares the whole output with the last 8 bytes of the file,
/// so a multi-member gzip file (several gzip files concatenated, as bgzip writes) is rejected
/// as corrupt even when it is intact. Files written by gzip, Python's gzip module or pigz are
/// single-member.
/// </remarks>
internal sealed class GzipCheckedStream : Stream
{
    private const int HeaderAndTrailerBytes = 18;
    private readonly GZipStream _gzip;
    private readonly uint _expectedCrc;
    private readonly uint _expectedLength;
    private uint _crc;
    private long _length;
    private bool _checked;

    private GzipCheckedStream(FileStream file, uint expectedCrc, uint expectedLength)
    {
        _gzip = new GZipStream(file, CompressionMode.Decompress);
        _expectedCrc = expectedCrc;
        _expectedLength = expectedLength;
    }

    /// <summary>Takes ownership of <paramref name="file"/>.</summary>
    /// <exception cref="InvalidDataException">The file does not look like gzip.</exception>
    public static GzipCheckedStream Open(FileStream file)
    {
        Span<byte> bytes = stackalloc byte[8];
        if (file.Length < HeaderAndTrailerBytes)
            throw new InvalidDataException($"{file.Length} bytes is too short to be gzip");

        file.ReadExactly(bytes[..2]);
        if (bytes[0] != 0x1F || bytes[1] != 0x8B)
            throw new InvalidDataException($"not gzip: starts with {bytes[0]:X2} {bytes[1]:X2}, not 1F 8B");

        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(bytes);
        file.Seek(0, SeekOrigin.Begin);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes[..4]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        return new GzipCheckedStream(file, crc, length);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read = _gzip.Read(buffer);
        if (read > 0)
        {
            _crc = Crc32.Append(_crc, buffer[..read]);
            _length += read;
        }
        else if (buffer.Length > 0 && !_checked)
        {
            CheckTrailer();
        }

        return read;
    }

    private void CheckTrailer()
    {
        _checked = true;
        if (_crc == _expectedCrc && (uint)_length == _expectedLength) return;

        throw new InvalidDataException(
            $"gzip data is truncated or corrupt: decompressed {_length} bytes with CRC-32 {_crc:X8}, "
            + $"but the gzip trailer records {_expectedLength} bytes (mod 2^32) with CRC-32 {_expectedCrc:X8}");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _gzip.Dispose();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
