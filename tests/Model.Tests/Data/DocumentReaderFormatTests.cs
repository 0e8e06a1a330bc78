using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class DocumentReaderFormatTests
{
    private static readonly string[] SingleLineDocuments =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Grüße aus Köln — 日本語のテキスト 🎉",
        "  leading and trailing spaces are kept  ",
        "{\"looks\": \"like json\"} but is text",
        "last one",
    ];

    private static readonly string[] MultiLineDocuments =
    [
        "Chapter 1\nIt was a dark and stormy night.\n  Indented line.",
        "In the beginning\nwas the word.",
        "Single line document",
        "Article 3.\n(a) The party of the first part\n(b) shall not, whatever the clause, ‹sue›.",
        "def f(x):\n    return x * 2",
    ];

    public static TheoryData<string, Compression, string> Layouts()
    {
        var data = new TheoryData<string, Compression, string>();
        var encodings = new (Compression, string)[]
        {
            (Compression.None, ".txt"), (Compression.Gzip, ".gz"), (Compression.Zstd, ".zst"),
            (Compression.Auto, ".txt"), (Compression.Auto, ".gz"), (Compression.Auto, ".zst"),
        };
        foreach (var layout in new[] { "json", "line", "blank-line", "whole-file", "<|doc|>" })
        {
            foreach (var (compression, extension) in encodings) data.Add(layout, compression, extension);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Every_format_and_compression_reads_the_same_documents(
        string layout, Compression compression, string extension)
    {
        using var corpus = new TempCorpus();
        var expected = layout == "line" ? SingleLineDocuments : MultiLineDocuments;
        var spec = Write(corpus, layout, extension, expected) with { Compression = compression };

        var documents = new DocumentReader(spec).ToList();

        Assert.Equal(expected.Select((text, i) => (i, text)), documents.Select(d => (d.Index, d.Text)));
    }

    [Theory]
    [InlineData("corpus.jsonl.gz", ".gz")]
    [InlineData("corpus.jsonl.GZ", ".gz")]
    [InlineData("corpus.jsonl.zst", ".zst")]
    [InlineData("corpus.jsonl.zstd", ".zst")]
    [InlineData("corpus.jsonl.ZST", ".zst")]
    [InlineData("corpus.jsonl", "")]
    public void Auto_takes_the_compression_from_the_extension(string name, string compressedAs)
    {
        using var corpus = new TempCorpus();
        var content = TempCorpus.Compress("{\"text\":\"x\"}\n"u8.ToArray(), compressedAs);
        var spec = TempCorpus.Spec([corpus.WriteBytes(name, content)], compression: Compression.Auto);

        Assert.Equal("x", new DocumentReader(spec).Single().Text);
    }

    [Fact]
    public void Auto_does_not_sniff_content_a_gzip_file_without_gz_extension_is_read_as_text()
    {
        using var corpus = new TempCorpus();
        var content = TempCorpus.Compress("{\"text\":\"x\"}\n"u8.ToArray(), ".gz");
        var spec = TempCorpus.Spec([corpus.WriteBytes("corpus.jsonl", content)], compression: Compression.Auto);

        Assert.Throws<CorpusException>(() => new DocumentReader(spec).ToList());
    }

    [Theory]
    [InlineData("line", DocumentSplitKind.Line, null)]
    [InlineData("blank-line", DocumentSplitKind.BlankLine, null)]
    [InlineData("whole-file", DocumentSplitKind.WholeFile, null)]
    [InlineData("<|doc|>", DocumentSplitKind.SeparatorLine, "<|doc|>")]
    public void Split_rules_parse_from_their_names(string value, DocumentSplitKind kind, string? separator)
    {
        var split = DocumentSplit.Parse(value);

        Assert.Equal((kind, separator), (split.Kind, split.Separator));
        Assert.Equal(value, split.ToString());
    }

    [Fact]
    public void A_blank_separator_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => DocumentSplit.Parse("  "));
    }

    [Fact]
    public void Files_are_opened_only_as_the_enumeration_reaches_them()
    {
        using var corpus = new TempCorpus();
        var first = corpus.Write("a.jsonl", TempCorpus.JsonLines(["one", "two"]));
        var missing = Path.Combine(corpus.Folder, "missing.jsonl");
        var spec = TempCorpus.Spec([first, missing]);

        using var documents = new DocumentReader(spec).GetEnumerator();

        Assert.True(documents.MoveNext());
        Assert.True(documents.MoveNext());
        var error = Assert.Throws<CorpusException>(() => documents.MoveNext());
        Assert.Equal(missing, error.File);
    }

    // Writes the documents across files in the given layout and returns a spec for them.
    private static DistributionSpec Write(TempCorpus corpus, string layout, string extension, string[] documents)
    {
        string Name(int i) => $"part{i}{(layout == "json" ? ".jsonl" : ".txt")}{Suffix(extension)}";

        if (layout == "whole-file")
        {
            var files = documents.Select((d, i) => corpus.Write(Name(i), WholeFile(d, i))).ToList();
            return TempCorpus.Spec(files, CorpusFormat.Text, split: DocumentSplit.WholeFile);
        }

        var halves = new[] { documents[..2], documents[2..] };
        var paths = halves.Select((half, i) => corpus.Write(Name(i), Render(layout, half, i))).ToList();
        var format = layout == "json" ? CorpusFormat.JsonLines : CorpusFormat.Text;
        return TempCorpus.Spec(paths, format, split: DocumentSplit.Parse(layout == "json" ? "line" : layout));
    }

    private static string Suffix(string extension) => extension == ".txt" ? "" : extension;

    // Each layout adds the noise its rule must ignore: blank lines, CRLF endings, runs of blank
    // lines, white-space-only lines, leading separators.
    private static string Render(string layout, string[] documents, int part) => layout switch
    {
        "json" => TempCorpus.JsonLines(documents) + "\n",
        "line" => part == 0
            ? string.Join("\r\n", documents) + "\r\n\r\n"
            : "\n" + string.Join("\n\n", documents) + "\n",
        "blank-line" => "\n\n" + string.Join(part == 0 ? "\n\n\n" : "\n   \n", documents) + "\n\n",
        _ => $"{layout}\n" + string.Join($"\n\n{layout}\n", documents) + $"\n{layout}\n",
    };

    private static string WholeFile(string document, int i) =>
        i % 2 == 0 ? document + "\n" : "\n" + document.Replace("\n", "\r\n") + "\r\n\r\n";
}
