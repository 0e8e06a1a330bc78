using System.Buffers.Binary;
using System.Text;

namespace LifelongMoE.Host.Reports;

/// <summary>
/// Writes TensorBoard scalar summaries to an events.out.tfevents.* file, without TensorFlow.
/// The file is a sequence of TFRecords: (uint64 length, masked CRC-32C of the length, data, masked CRC-32C of
/// the data), little-endian. Each data is a serialized <c>Event</c> protobuf:
/// <code>
/// Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
/// Summary { repeated Value value = 1; }
/// Value   { string tag = 1; float simple_value = 2; }
/// </code>
/// The first record carries file_version "brain.Event:2". Thread-safe; records are flushed to the OS every
/// <see cref="FlushInterval"/> so a TensorBoard watching the run sees them while it trains.
/// </summary>
internal sealed class TensorBoardWriter : IDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(2);

    private readonly FileStream stream;
    private readonly object gate = new();
    private DateTime lastFlush = DateTime.UtcNow;

    public TensorBoardWriter(string directory)
    {
        Directory.CreateDirectory(directory);
        var seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var name = $"events.out.tfevents.{seconds}.{Environment.MachineName}.{Environment.ProcessId}";
        Path = System.IO.Path.Combine(directory, name);
        stream = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);

        var first = new ProtoWriter();
        first.Double(1, WallTime());
        first.String(3, "brain.Event:2");
        WriteRecord(first.ToArray());
        stream.Flush();
    }

    public string Path { get; }

    public void Scalar(string tag, long step, double value) => Scalars(step, [(tag, value)]);

    /// <summary>Writes several scalars of one step as one event.</summary>
    public void Scalars(long step, IReadOnlyList<(string Tag, double Value)> values)
    {
        var summary = new ProtoWriter();
        foreach (var (tag, value) in values)
        {
            var v = new ProtoWriter();
            v.String(1, tag);
            v.Float(2, (float)value);
            summary.Message(1, v);
        }

        var e = new ProtoWriter();
        e.Double(1, WallTime());
        e.Int64(2, step);
        e.Message(5, summary);

        lock (gate)
        {
            WriteRecord(e.ToArray());
            if (DateTime.UtcNow - lastFlush < FlushInterval) return;
            stream.Flush();
            lastFlush = DateTime.UtcNow;
        }
    }

    public void Flush()
    {
        lock (gate) stream.Flush();
    }

    public void Dispose()
    {
        lock (gate) stream.Dispose();
    }

    /// <summary>TFRecord's checksum: CRC-32C rotated right by 15 bits plus a constant.</summary>
    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C.Compute(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    private static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    private void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc(data));

        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }

    /// <summary>The few protobuf wire types an Event needs.</summary>
    private sealed class ProtoWriter
    {
        private readonly MemoryStream buffer = new();

        public void Double(int field, double value)
        {
            Tag(field, 1);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(b, value);
            buffer.Write(b);
        }

        public void Float(int field, float value)
        {
            Tag(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            buffer.Write(b);
        }

        public void Int64(int field, long value)
        {
            Tag(field, 0);
            Varint((ulong)value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => buffer.ToArray();

        private void Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            Varint((ulong)value.Length);
            buffer.Write(value);
        }

        private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

        private void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                buffer.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            buffer.WriteByte((byte)value);
        }
    }
}

/// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses.</summary>
internal static class Crc32C
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }

        return table;
    }
}
