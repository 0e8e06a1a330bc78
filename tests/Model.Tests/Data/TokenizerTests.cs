using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class TokenizerTests
{
    private const string Multilingual =
        "Grüße, naïve café — 日本語のテキスト, Ελληνικά, emoji 🎉🚀 and tabs\tnewlines\n";

    [Fact]
    public void Bytes_round_trip_utf8_text_including_non_ascii()
    {
        var tokenizer = Tokenizers.Create("bytes");

        var ids = tokenizer.Encode(Multilingual);

        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(Multilingual), ids.Length);
        Assert.All(ids, id => Assert.InRange(id, 1, 255));
        Assert.Equal(Multilingual, tokenizer.Decode(ids));
        Assert.Equal(("bytes", 256, 0), (tokenizer.Name, tokenizer.VocabSize, tokenizer.DocumentSeparator));
    }

    [Fact]
    public void Bytes_strip_nul_so_text_cannot_fake_a_document_boundary()
    {
        var ids = Tokenizers.Create("bytes").Encode("a\0b");

        Assert.Equal(new[] { 'a', 'b' }, ids.Select(i => (char)i));
    }

    [Theory]
    [InlineData("gpt2", new[] { 31373, 995 }, 50257, 50256)]
    [InlineData("cl100k", new[] { 15339, 1917 }, 100277, 100257)]
    public void Bpe_encodes_hello_world_to_the_known_ids(string name, int[] expected, int vocab, int separator)
    {
        var tokenizer = Tokenizers.Create(name);

        Assert.Equal(expected, tokenizer.Encode("hello world"));
        Assert.Equal(name, tokenizer.Name);
        Assert.Equal(vocab, tokenizer.VocabSize);
        Assert.Equal(separator, tokenizer.DocumentSeparator);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("cl100k")]
    public void Bpe_round_trips_text(string name)
    {
        var tokenizer = Tokenizers.Create(name);

        var ids = tokenizer.Encode(Multilingual);

        Assert.Equal(Multilingual, tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("cl100k")]
    public void Bpe_keeps_a_literal_endoftext_in_the_text_as_ordinary_text(string name)
    {
        var tokenizer = Tokenizers.Create(name);
        const string text = "print('<|endoftext|>')  # and <|endoftext|><|endoftext|> twice";

        var ids = tokenizer.Encode(text);

        Assert.DoesNotContain(tokenizer.DocumentSeparator, ids);
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Unknown_name_is_rejected_naming_the_value_and_the_allowed_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => Tokenizers.Create("sentencepiece"));

        Assert.Contains("'sentencepiece'", error.Message);
        Assert.Contains("bytes, gpt2, cl100k", error.Message);
    }
}
