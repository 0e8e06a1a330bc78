using LifelongMoE.Host.Reports;

namespace LifelongMoE.Host.Tests.Reports;

/// <summary>Reads back what <see cref="TensorBoardWriter"/> wrote with a decoder of its own.</summary>
public class TensorBoardWriterSpec
{
    [Fact]
    public void Crc32c_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
    }

    [Fact]
    public void Events_file_is_tfrecords_of_events_with_a_version_record_first()
    {
        var dir = Repository.TempDirectory("tfevents");
        string path;
        using (var writer = new TensorBoardWriter(dir))
        {
            writer.Scalar("train/loss", 1, 3.5);
            writer.Scalars(2, [("train/loss", 3.25), ("eval/bits_per_byte/fiction", 1.125)]);
            path = writer.Path;
        }

        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(path));
        var events = TfEvents.Read(path);

        Assert.Equal(3, events.Count);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.Empty(events[0].Values);
        Assert.Equal(1, events[1].Step);
        Assert.Equal(new TfEvents.Scalar("train/loss", 3.5f), Assert.Single(events[1].Values));
        Assert.Equal(2, events[2].Step);
        var expected = new[]
        {
            new TfEvents.Scalar("train/loss", 3.25f), new TfEvents.Scalar("eval/bits_per_byte/fiction", 1.125f),
        };
        Assert.Equal(expected, events[2].Values);
        Assert.All(events, e => Assert.InRange(e.WallTime, 1.7e9, 4e9));
    }

    [Fact]
    public void A_corrupted_byte_fails_the_checksum()
    {
        var dir = Repository.TempDirectory("tfevents-bad");
        string path;
        using (var writer = new TensorBoardWriter(dir))
        {
            writer.Scalar("train/loss", 1, 3.5);
            path = writer.Path;
        }

        var bytes = File.ReadAllBytes(path);
        bytes[^6] ^= 0x40;

        Assert.Throws<InvalidDataException>(() => TfEvents.Records(bytes).ToList());
    }
}
