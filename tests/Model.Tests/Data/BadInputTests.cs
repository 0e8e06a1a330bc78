using System.Text;
using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class BadInputTests
{
    private static readonly string[] Texts = [.. Enumerable.Range(0, 40).Select(i => $"document number {i}")];

    [Fact]
    public void Missing_file_is_named()
    {
        using var corpus = new TempCorpus();
        var path = Path.Combine(corpus.Folder, "nowhere.jsonl.gz");

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal(path, error.File);
        Assert.Contains(path, error.Message);
        Assert.Contains("not found", error.Message);
    }

    [Fact]
    public void A_gz_file_that_is_not_gzip_is_named()
    {
        using var corpus = new TempCorpus();
        var path = corpus.WriteBytes("plain.jsonl.gz", Encoding.UTF8.GetBytes(TempCorpus.JsonLines(Texts)));

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal(path, error.File);
        Assert.Contains(path, error.Message);
        Assert.Contains("gzip", error.Message);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    [InlineData(0.5)]
    public void Truncated_gzip_is_named_with_the_line_reached(double cut)
    {
        using var corpus = new TempCorpus();
        var whole = TempCorpus.Compress(Encoding.UTF8.GetBytes(TempCorpus.JsonLines(Texts)), ".gz");
        int keep = cut < 1 ? (int)(whole.Length * cut) : whole.Length - (int)cut;
        var path = corpus.WriteBytes("cut.jsonl.gz", whole[..keep]);

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal(path, error.File);
        Assert.Contains(path, error.Message);
        Assert.Contains("gzip", error.Message);
        Assert.NotNull(error.Line);
    }

    [Theory]
    [InlineData(-5)] // a byte of the CRC-32 in the trailer
    [InlineData(-2)] // a byte of the recorded length
    [InlineData(40)] // a byte of the deflate body
    public void Corrupt_gzip_is_named(int at)
    {
        using var corpus = new TempCorpus();
        var text = string.Concat(Enumerable.Range(0, 2000).Select(i => $"{{\"text\":\"row {i}\"}}\n"));
        var bytes = TempCorpus.Compress(Encoding.UTF8.GetBytes(text), ".gz");
        bytes[at < 0 ? bytes.Length + at : at] ^= 0x5A;
        var path = corpus.WriteBytes("corrupt.jsonl.gz", bytes);

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal(path, error.File);
        Assert.Contains("corrupt", error.Message);
    }

    [Fact]
    public void Garbage_zstd_is_named()
    {
        using var corpus = new TempCorpus();
        var path = corpus.WriteBytes("garbage.jsonl.zst", Encoding.UTF8.GetBytes(TempCorpus.JsonLines(Texts)));

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal(path, error.File);
        Assert.Contains(path, error.Message);
        Assert.Contains("zstd", error.Message);
    }

    [Fact]
    public void Truncated_zstd_is_named()
    {
        using var corpus = new TempCorpus();
        var whole = TempCorpus.Compress(Encoding.UTF8.GetBytes(TempCorpus.JsonLines(Texts)), ".zst");
        var path = corpus.WriteBytes("cut.jsonl.zst", whole[..(whole.Length - 10)]);

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Contains(path, error.Message);
        Assert.Contains("zstd", error.Message);
    }

    [Fact]
    public void Invalid_json_is_named_with_its_line()
    {
        using var corpus = new TempCorpus();
        var lines = TempCorpus.JsonLines(Texts[..2]) + "{\"text\": \"unterminated\n" + TempCorpus.JsonLines(Texts);
        var path = corpus.Write("bad.jsonl", lines);

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal((path, 3L), (error.File, error.Line));
        Assert.Contains($"{path}, line 3", error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Fact]
    public void A_line_without_the_text_field_is_named_with_field_and_line()
    {
        using var corpus = new TempCorpus();
        var noText = "{\"id\": \"x\", \"body\": \"hello\"}\n";
        var lines = TempCorpus.JsonLines(Texts[..1]) + noText + TempCorpus.JsonLines(Texts);
        var path = corpus.Write("nofield.jsonl.gz", lines);

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal(2L, error.Line);
        Assert.Contains($"{path}, line 2", error.Message);
        Assert.Contains("\"text\"", error.Message);
    }

    [Theory]
    [InlineData("{\"text\": 42}", "Number")]
    [InlineData("{\"text\": null}", "Null")]
    [InlineData("[\"text\"]", "Array")]
    public void A_text_that_is_not_a_string_is_named(string line, string found)
    {
        using var corpus = new TempCorpus();
        var path = corpus.Write("types.jsonl", TempCorpus.JsonLines(Texts) + line + "\n");

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Equal(Texts.Length + 1L, error.Line);
        Assert.Contains(found, error.Message);
    }

    [Fact]
    public void Invalid_utf8_is_named_with_its_line()
    {
        using var corpus = new TempCorpus();
        byte[] invalid = [0xC3, 0x28, 0x0A]; // a lead byte followed by a non-continuation byte
        var bytes = Encoding.UTF8.GetBytes("fine\nalso fine\nbad: ").Concat(invalid).ToArray();
        var path = corpus.WriteBytes("latin.txt", bytes);

        var error = ValidateFails(TempCorpus.Spec([path], CorpusFormat.Text));

        Assert.Contains(path, error.Message);
        Assert.Contains("UTF-8", error.Message);
    }

    [Fact]
    public void An_empty_corpus_is_refused()
    {
        using var corpus = new TempCorpus();
        var path = corpus.Write("empty.jsonl.gz", "\n\n");

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Contains(path, error.Message);
        Assert.Contains("no documents", error.Message);
    }

    [Fact]
    public void A_corpus_with_no_training_documents_after_the_holdout_is_refused()
    {
        using var corpus = new TempCorpus();
        var path = corpus.Write("all-held-out.jsonl", TempCorpus.JsonLines(Texts));

        var error = Assert.Throws<CorpusException>(
            () => CorpusValidator.Validate(TempCorpus.Spec([path]), new HoldoutRule(1, 0)));

        Assert.Contains(path, error.Message);
        Assert.Contains("no training documents", error.Message);
    }

    [Fact]
    public void A_corpus_too_small_for_any_held_out_document_is_refused()
    {
        using var corpus = new TempCorpus();
        var path = corpus.Write("tiny.jsonl", TempCorpus.JsonLines(Texts[..19]));

        var error = ValidateFails(TempCorpus.Spec([path]));

        Assert.Contains("no held-out documents", error.Message);
    }

    [Fact]
    public void A_token_stream_over_an_empty_corpus_fails_instead_of_spinning()
    {
        using var corpus = new TempCorpus();
        var path = corpus.Write("empty.jsonl", "");
        var options = new TokenStreamOptions(2, 8, 4, 1);

        var error = Assert.Throws<CorpusException>(
            () =>
                new TokenStream(TempCorpus.Spec([path]), HoldoutRule.Default, ByteTokenizer.Instance, options));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void The_error_names_the_bad_file_not_its_good_neighbour()
    {
        using var corpus = new TempCorpus();
        var good = corpus.Write("good.jsonl", TempCorpus.JsonLines(Texts));
        var bad = corpus.Write("bad.jsonl", TempCorpus.JsonLines(Texts[..3]) + "not json\n");

        var error = ValidateFails(TempCorpus.Spec([good, bad]));

        Assert.Equal((bad, 4L), (error.File, error.Line));
    }

    private static CorpusException ValidateFails(DistributionSpec spec) =>
        Assert.Throws<CorpusException>(() => CorpusValidator.Validate(spec, HoldoutRule.Default));
}
