using System.Text;
using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class CorpusValidatorTests
{
    [Fact]
    public void Stats_count_documents_bytes_and_tokens_by_the_holdout_rule()
    {
        using var corpus = new TempCorpus();
        var texts = SyntheticText.Documents(45, 10);
        var first = corpus.Write("a.jsonl.gz", TempCorpus.JsonLines(texts[..30]));
        var second = corpus.Write("b.jsonl.zst", TempCorpus.JsonLines(texts[30..]));
        var spec = TempCorpus.Spec([first, second], name: "mixed");

        var stats = CorpusValidator.Validate(spec, HoldoutRule.Default, ByteTokenizer.Instance);

        long Bytes(IEnumerable<string> some) => some.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
        var heldOut = new[] { texts[19], texts[39] };
        long all = Bytes(texts), held = Bytes(heldOut);
        Assert.Equal(new CorpusStats("mixed", 45, 43, 2, all, all - held, held, all), stats);
    }

    [Fact]
    public void Tokens_are_not_counted_without_a_tokenizer()
    {
        using var corpus = new TempCorpus();
        var spec = TempCorpus.Spec([corpus.Write("a.jsonl", TempCorpus.JsonLines(SyntheticText.Documents(20, 5)))]);

        Assert.Null(CorpusValidator.Validate(spec, HoldoutRule.Default).Tokens);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(20, 20)]
    [InlineData(20, -1)]
    public void A_meaningless_holdout_rule_is_refused(int every, int offset)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HoldoutRule(every, offset));
    }
}
