using System.Diagnostics;
using LifelongMoE.Model.Data;
using Xunit.Abstractions;

namespace LifelongMoE.Model.Tests.Data;

public class ThroughputTests(ITestOutputHelper output)
{
    // Training runs at about 20 steps/s of 8 x 128 tokens; the stream should be far ahead of that,
    // with room for a loaded test machine. BPE tokenizes as it goes, so it gets a lower bar.
    private const double RequiredBatchesPerSecond = 200;
    private const double RequiredBpeBatchesPerSecond = 60;

    [Fact]
    public void Byte_stream_over_the_largest_shipped_corpus_outpaces_training()
    {
        var spec = ShippedCorpora.Spec("computing");
        var options = new TokenStreamOptions(8, 128, 1024, 1);
        var clock = Stopwatch.StartNew();
        using var stream = new TokenStream(spec, ShippedCorpora.Holdout, ByteTokenizer.Instance, options);
        int batches = 0;
        while (stream.Cursor.Epoch == 0)
        {
            stream.Next();
            batches++;
        }

        clock.Stop();
        double rate = batches / clock.Elapsed.TotalSeconds;
        output.WriteLine(
            $"one epoch: {batches} batches of 8 x 129 in {clock.ElapsedMilliseconds} ms, {rate:F0} batches/s");
        Assert.True(rate > RequiredBatchesPerSecond, $"{rate:F0} batches/s");
    }

    [Fact]
    public void Resuming_late_in_an_epoch_is_quick()
    {
        var spec = ShippedCorpora.Spec("computing");
        var options = new TokenStreamOptions(8, 128, 1024, 1);
        using var stream = new TokenStream(spec, ShippedCorpora.Holdout, ByteTokenizer.Instance, options);
        for (int i = 0; i < 4000; i++) stream.Next();
        var cursor = stream.Cursor;

        var clock = Stopwatch.StartNew();
        using var resumed = new TokenStream(spec, ShippedCorpora.Holdout, ByteTokenizer.Instance, options, cursor);
        var batch = resumed.Next();
        clock.Stop();

        output.WriteLine($"resumed at {cursor} in {clock.ElapsedMilliseconds} ms");
        Assert.Equal(stream.Next().Tokens, batch.Tokens);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Gpt2_stream_outpaces_training()
    {
        var spec = ShippedCorpora.Spec("code");
        var options = new TokenStreamOptions(8, 128, 1024, 1);
        var clock = Stopwatch.StartNew();
        using var stream = new TokenStream(spec, ShippedCorpora.Holdout, Tokenizers.Create("gpt2"), options);
        const int batches = 1000;
        for (int i = 0; i < batches; i++) stream.Next();

        clock.Stop();
        double rate = batches / clock.Elapsed.TotalSeconds;
        output.WriteLine($"gpt2: {batches} batches of 8 x 129 in {clock.ElapsedMilliseconds} ms, {rate:F0} batches/s");
        Assert.True(rate > RequiredBpeBatchesPerSecond, $"{rate:F0} batches/s");
    }
}
