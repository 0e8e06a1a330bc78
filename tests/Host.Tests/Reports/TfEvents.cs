using System.Buffers.Binary;
using System.Text;

namespace LifelongMoE.Host.Tests.Reports;

/// <summary>
/// The tests' own reader of TensorBoard event files: TFRecord framing with its checksums (a bitwise CRC-32C,
/// independent of the writer's table), and the protobuf fields of Event, Summary and Value.
/// </summary>
public static class TfEvents
{
    public sealed record Scalar(string Tag, float Value);

    public sealed record Event(double WallTime, long Step, string? FileVersion, List<Scalar> Values);

    public static List<Event> Read(string path) => Records(File.ReadAllBytes(path)).Select(Decode).ToList();

    public static IEnumerable<byte[]> Records(byte[] file)
    {
        int at = 0;
        while (at < file.Length)
        {
            var header = file.AsSpan(at, 8);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            uint lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 8, 4));
            if (lengthCrc != Masked(header)) throw new InvalidDataException($"length checksum at {at}");

            var data = file.AsSpan(at + 12, (int)length).ToArray();
            uint dataCrc = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 12 + (int)length, 4));
            if (dataCrc != Masked(data)) throw new InvalidDataException($"data checksum at {at}");

            yield return data;
            at += 12 + (int)length + 4;
        }
    }

    // The test's own CRC-32C (bitwise, no table) and TFRecord masking.
    private static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (uint)-(int)(crc & 1));
        }

        crc = ~crc;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    public static Event Decode(byte[] data)
    {
        double wall = 0;
        long step = 0;
        string? version = null;
        var values = new List<Scalar>();
        foreach (var (field, wire, value, bytes) in Fields(data))
        {
            switch (field)
            {
                case 1: Assert.Equal(1, wire); wall = BitConverter.Int64BitsToDouble((long)value); break;
                case 2: Assert.Equal(0, wire); step = (long)value; break;
                case 3: Assert.Equal(2, wire); version = Encoding.UTF8.GetString(bytes!); break;
                case 5: Assert.Equal(2, wire); values.AddRange(Summary(bytes!)); break;
                default: Assert.Fail($"unexpected Event field {field}"); break;
            }
        }

        return new Event(wall, step, version, values);
    }

    private static IEnumerable<Scalar> Summary(byte[] data)
    {
        foreach (var (field, wire, _, bytes) in Fields(data))
        {
            Assert.Equal((1, 2), (field, wire));
            string? tag = null;
            float simple = float.NaN;
            foreach (var (f, w, v, b) in Fields(bytes!))
            {
                if (f == 1 && w == 2) tag = Encoding.UTF8.GetString(b!);
                else if (f == 2 && w == 5) simple = BitConverter.Int32BitsToSingle((int)v);
                else Assert.Fail($"unexpected Value field {f}");
            }

            yield return new Scalar(tag!, simple);
        }
    }

    private static IEnumerable<(int Field, int Wire, ulong Value, byte[]? Bytes)> Fields(byte[] data)
    {
        int at = 0;
        while (at < data.Length)
        {
            ulong key = Varint(data, ref at);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0:
                    yield return (field, wire, Varint(data, ref at), null);
                    break;
                case 1:
                    yield return (field, wire, BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(at, 8)), null);
                    at += 8;
                    break;
                case 2:
                    int length = (int)Varint(data, ref at);
                    yield return (field, wire, 0, data.AsSpan(at, length).ToArray());
                    at += length;
                    break;
                case 5:
                    yield return (field, wire, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at, 4)), null);
                    at += 4;
                    break;
                default:
                    throw new InvalidDataException($"wire type {wire}");
            }
        }
    }

    private static ulong Varint(byte[] data, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }
}
