using System.Text;
using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class HeldOutSetTests : IDisposable
{
    private readonly TempCorpus _corpus = new();
    private readonly string[] _texts;
    private readonly DistributionSpec _spec;

    public HeldOutSetTests()
    {
        // 400 documents, 20 held out; only those are in capitals.
        _texts = SyntheticText.Documents(400, 30)
            .Select((t, i) => HoldoutRule.Default.IsHeldOut(i) ? t.ToUpperInvariant() : t)
            .ToArray();
        _spec = TempCorpus.Spec([_corpus.Write("docs.jsonl", TempCorpus.JsonLines(_texts))]);
    }

    public void Dispose() => _corpus.Dispose();

    [Fact]
    public void Sequences_pack_the_held_out_documents_in_corpus_order()
    {
        var set = HeldOutSet.Build(_spec, HoldoutRule.Default, ByteTokenizer.Instance, 32, 10);

        var expected = HeldOutStream(ByteTokenizer.Instance);
        Assert.Equal(10, set.Sequences.Count);
        for (int i = 0; i < set.Sequences.Count; i++)
        {
            Assert.Equal(expected.Skip(i * 32).Take(33), set.Sequences[i]);
        }
    }

    [Fact]
    public void The_set_is_deterministic()
    {
        var first = HeldOutSet.Build(_spec, HoldoutRule.Default, ByteTokenizer.Instance, 32, 10);
        var second = HeldOutSet.Build(_spec, HoldoutRule.Default, ByteTokenizer.Instance, 32, 10);

        Assert.Equal(first.Sequences, second.Sequences);
        Assert.Equal((first.Tokens, first.Bytes), (second.Tokens, second.Bytes));
    }

    [Fact]
    public void Byte_tokens_count_their_bytes_exactly()
    {
        var set = HeldOutSet.Build(_spec, HoldoutRule.Default, ByteTokenizer.Instance, 32, 10);

        Assert.Equal(10 * 32, set.Tokens);
        Assert.Equal(set.Tokens, set.Bytes);
    }

    [Fact]
    public void All_held_out_text_is_used_when_max_sequences_allows()
    {
        var set = HeldOutSet.Build(_spec, HoldoutRule.Default, ByteTokenizer.Instance, 32, int.MaxValue);

        var stream = HeldOutStream(ByteTokenizer.Instance);
        Assert.Equal((stream.Count - 1) / 32, set.Sequences.Count);
        Assert.Equal(20, set.Documents);
        Assert.DoesNotContain(set.Sequences.SelectMany(s => s), t => t is >= 'a' and <= 'z');
    }

    [Fact]
    public void Bpe_bytes_cover_the_text_of_the_target_tokens()
    {
        var gpt2 = Tokenizers.Create("gpt2");

        var set = HeldOutSet.Build(_spec, HoldoutRule.Default, gpt2, 16, int.MaxValue);

        var heldOut = _texts.Where((_, i) => HoldoutRule.Default.IsHeldOut(i)).ToList();
        long allBytes = heldOut.Sum(t => Encoding.UTF8.GetByteCount(t) + 1L);
        Assert.Equal(set.Sequences.Count * 16L, set.Tokens);
        Assert.True(set.Bytes > set.Tokens, $"{set.Bytes} bytes for {set.Tokens} BPE tokens");
        Assert.InRange(set.Bytes, allBytes - 16 * 8, allBytes);
    }

    [Fact]
    public void Too_little_held_out_text_is_refused()
    {
        var error = Assert.Throws<CorpusException>(
            () => HeldOutSet.Build(_spec, HoldoutRule.Default, ByteTokenizer.Instance, 100_000, 1));

        Assert.Contains("held-out", error.Message);
    }

    private List<long> HeldOutStream(ITokenizer tokenizer) => _texts
        .Where((_, i) => HoldoutRule.Default.IsHeldOut(i))
        .SelectMany(t => tokenizer.Encode(t).Select(id => (long)id).Append(tokenizer.DocumentSeparator))
        .ToList();
}
