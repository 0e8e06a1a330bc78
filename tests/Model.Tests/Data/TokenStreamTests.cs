using System.Text;
using System.Text.Json;
using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class TokenStreamTests : IDisposable
{
    // 60 documents, 3 of them (19, 39, 59) held out. With 16-token sequences the training text
    // makes a few hundred sequences, so blocks of 7 and batches of 3 cross many block
    // boundaries and an epoch boundary within 150 batches.
    private static readonly TokenStreamOptions Small =
        new(BatchSize: 3, SequenceLength: 16, ShuffleBlock: 7, Seed: 5);
    private readonly TempCorpus _corpus = new();
    private readonly string[] _texts = SyntheticText.Documents(60, 12);
    private readonly DistributionSpec _spec;

    public TokenStreamTests()
    {
        _spec = TempCorpus.Spec([_corpus.Write("docs.jsonl.gz", TempCorpus.JsonLines(_texts))]);
    }

    public void Dispose() => _corpus.Dispose();

    [Fact]
    public void Batches_have_the_promised_shape()
    {
        using var stream = Open(Small);

        var batch = stream.Next();

        Assert.Equal((3, 16, 17), (batch.BatchSize, batch.SequenceLength, batch.Width));
        Assert.Equal(3 * 17, batch.Tokens.Length);
    }

    [Fact]
    public void The_same_seed_gives_the_same_batches()
    {
        using var first = Open(Small);
        using var second = Open(Small);

        for (int i = 0; i < 50; i++) Assert.Equal(first.Next().Tokens, second.Next().Tokens);
    }

    [Fact]
    public void Different_seeds_give_different_batches()
    {
        using var first = Open(Small);
        using var second = Open(Small with { Seed = 6 });

        var a = Enumerable.Range(0, 5).SelectMany(_ => first.Next().Tokens).ToArray();
        var b = Enumerable.Range(0, 5).SelectMany(_ => second.Next().Tokens).ToArray();

        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Resuming_from_a_cursor_continues_with_exactly_the_same_batches()
    {
        using var original = Open(Small);
        var seen = new HashSet<(int Epoch, long Block)>();

        for (int k = 0; k < 150; k++)
        {
            var cursor = RoundTrip(original.Cursor);
            seen.Add((cursor.Epoch, cursor.Block));
            using var resumed = Open(Small, cursor);
            Assert.Equal(cursor, resumed.Cursor);

            var expected = original.Next();
            Assert.Equal(expected.Tokens, resumed.Next().Tokens);
            Assert.Equal(original.Cursor, resumed.Cursor);
        }

        Assert.Contains(seen, s => s.Epoch == 0 && s.Block >= 2);
        Assert.Contains(seen, s => s.Epoch >= 1);
    }

    [Fact]
    public void Unshuffled_sequences_retrace_the_training_text_joined_by_separators()
    {
        using var stream = Open(new TokenStreamOptions(1, 16, 1, 0));
        var training = _texts.Where((_, i) => !HoldoutRule.Default.IsHeldOut(i));
        var expected = training
            .SelectMany(t => Encoding.UTF8.GetBytes(t).Select(b => (long)b).Append(0L))
            .ToList();
        int sequences = (expected.Count - 1) / 16;

        var rebuilt = new List<long>();
        for (int i = 0; i < sequences; i++)
        {
            var row = stream.Next().Row(0);
            rebuilt.AddRange(i == 0 ? row.ToArray() : row[1..].ToArray());
        }

        Assert.Equal(expected.Take(rebuilt.Count), rebuilt);
        Assert.Equal(1, stream.Cursor.Epoch);
    }

    [Fact]
    public void Each_epoch_emits_every_sequence_once_in_a_new_order()
    {
        using var plain = Open(new TokenStreamOptions(1, 16, 1, 0));
        var unshuffled = DrawEpoch(plain);
        using var shuffled = Open(Small with { BatchSize = 1 });

        var epoch0 = DrawEpoch(shuffled);
        var epoch1 = DrawEpoch(shuffled);

        Assert.Equal(Sorted(unshuffled), Sorted(epoch0));
        Assert.Equal(Sorted(unshuffled), Sorted(epoch1));
        Assert.NotEqual(unshuffled, epoch0);
        Assert.NotEqual(epoch0, epoch1);
    }

    [Fact]
    public void Held_out_documents_never_reach_training()
    {
        // Held-out documents are the only ones written in capitals.
        var texts = _texts.Select((t, i) => HoldoutRule.Default.IsHeldOut(i) ? t.ToUpperInvariant() : t).ToArray();
        var spec = TempCorpus.Spec([_corpus.Write("marked.jsonl.zst", TempCorpus.JsonLines(texts))]);
        using var stream = new TokenStream(spec, HoldoutRule.Default, ByteTokenizer.Instance, Small);

        var tokens = Enumerable.Range(0, 300).SelectMany(_ => stream.Next().Tokens).ToList();

        Assert.True(stream.Cursor.Epoch >= 2);
        Assert.DoesNotContain(tokens, t => t is >= 'A' and <= 'Z');
        Assert.Contains(tokens, t => t is >= 'a' and <= 'z');
    }

    [Fact]
    public void A_cursor_at_a_held_out_document_is_refused()
    {
        var cursor = new StreamCursor(0, 0, DocumentIndex: 19, TokenOffset: 0, Position: 0);

        Assert.Throws<ArgumentException>(() => Open(Small, cursor));
    }

    [Fact]
    public void Bpe_tokens_stream_too()
    {
        using var stream = new TokenStream(_spec, HoldoutRule.Default, Tokenizers.Create("gpt2"), Small);

        var batch = stream.Next();

        Assert.All(batch.Tokens, t => Assert.InRange(t, 0, 50256));
        Assert.Contains(50256L, Enumerable.Range(0, 20).SelectMany(_ => stream.Next().Tokens));
    }

    private TokenStream Open(TokenStreamOptions options, StreamCursor? cursor = null) =>
        new(_spec, HoldoutRule.Default, ByteTokenizer.Instance, options, cursor);

    private static StreamCursor RoundTrip(StreamCursor cursor) =>
        JsonSerializer.Deserialize<StreamCursor>(JsonSerializer.Serialize(cursor))!;

    private static List<string> DrawEpoch(TokenStream stream)
    {
        int epoch = stream.Cursor.Epoch;
        var rows = new List<string>();
        while (stream.Cursor.Epoch == epoch) rows.Add(string.Join(',', stream.Next().Tokens));

        return rows;
    }

    private static List<string> Sorted(List<string> rows) => rows.Order(StringComparer.Ordinal).ToList();
}
