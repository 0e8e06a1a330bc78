using LifelongMoE.Actors.Training;
using LifelongMoE.Model.Data;

namespace LifelongMoE.Host.Tests.Configuration;

public class CorpusManifestLoaderSpec
{
    private readonly string folder = Repository.TempDirectory("manifest");

    private string Manifest(string hocon, params string[] files)
    {
        foreach (var f in files)
        {
            var path = Path.Combine(folder, f);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "{\"text\": \"a\"}\n");
        }

        var manifest = Path.Combine(folder, "manifest.hocon");
        File.WriteAllText(manifest, hocon);
        return manifest;
    }

    private CorpusException Bad(string hocon, params string[] files)
    {
        var manifest = Manifest(hocon, files);
        var e = Assert.Throws<CorpusException>(() => CorpusManifestLoader.Load(manifest));
        Assert.Equal(manifest, e.File);
        return e;
    }

    [Fact]
    public void The_shipped_manifest_loads_all_five_distributions_with_existing_files()
    {
        var (distributions, holdout) = CorpusManifestLoader.Load(Repository.Manifest);

        Assert.Equal(new[] { "fiction", "scripture", "legal", "computing", "code" }, distributions.Select(d => d.Name));
        Assert.Equal(new HoldoutRule(20, 19), holdout);
        foreach (var d in distributions)
        {
            Assert.Equal(CorpusFormat.JsonLines, d.Format);
            Assert.Equal("text", d.TextField);
            Assert.Equal(Compression.Auto, d.Compression);
            var file = Assert.Single(d.Files);
            Assert.True(Path.IsPathRooted(file));
            Assert.True(File.Exists(file), file);
        }
    }

    [Fact]
    public void Files_resolve_against_the_manifest_folder_joined_with_root_and_expand_wildcards()
    {
        var manifest = Manifest("""
            corpora {
              root = "texts"
              distributions {
                poems { files = ["poems/*.txt"], format = text, split = "<|doc|>", compression = none }
                news { files = "news.jsonl", text-field = body }
              }
              holdout { every = 4, offset = 0 }
            }
            """, "texts/poems/b.txt", "texts/poems/a.txt", "texts/news.jsonl");

        var (distributions, holdout) = CorpusManifestLoader.Load(manifest);

        var poems = distributions[0];
        Assert.Equal("poems", poems.Name);
        Assert.Equal(new[] { "a.txt", "b.txt" }, poems.Files.Select(Path.GetFileName));
        Assert.Equal(Path.Combine(folder, "texts", "poems", "a.txt"), poems.Files[0]);
        Assert.Equal((CorpusFormat.Text, Compression.None), (poems.Format, poems.Compression));
        Assert.Equal(DocumentSplit.SeparatorLine("<|doc|>"), poems.Split);
        Assert.Equal(("news", "body"), (distributions[1].Name, distributions[1].TextField));
        Assert.Equal(new HoldoutRule(4, 0), holdout);
    }

    [Theory]
    [InlineData("order = [a, c]", "corpora.order = [a, c]: \"c\" has no entry under corpora.distributions")]
    [InlineData("order = [a, a, b]", "corpora.order = [a, a, b]: \"a\" is listed twice")]
    [InlineData("order = [a]", "corpora.distributions.b: is not in corpora.order")]
    [InlineData("holdout { every = 5, offset = 5 }", "corpora.holdout.offset = 5: must be in [0, 5)")]
    [InlineData("holdout { every = 0 }", "corpora.holdout.every = 0: must be at least 1")]
    [InlineData("holdout { every = often }", "corpora.holdout.every = \"often\": expected a whole number")]
    public void A_bad_top_level_entry_names_the_manifest_and_the_key(string entry, string message)
    {
        var e = Bad($$"""
            corpora {
              {{entry}}
              distributions {
                a { files = ["a.jsonl"] }
                b { files = ["b.jsonl"] }
              }
            }
            """, "a.jsonl", "b.jsonl");

        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("format = jsonn", "corpora.distributions.a.format = \"jsonn\": expected jsonl or text")]
    [InlineData("compression = bz2", "corpora.distributions.a.compression = \"bz2\": expected auto, none, gzip")]
    [InlineData("format = text, split = \"\"", "corpora.distributions.a.split = \"\": expected line, blank-line")]
    [InlineData("text-field = \"\"", "corpora.distributions.a.text-field = \"\": expected the name of the JSON field")]
    [InlineData("fromat = text", "corpora.distributions.a.fromat: unknown key")]
    public void A_bad_distribution_entry_names_the_manifest_and_the_key(string entry, string message)
    {
        var e = Bad($$"""corpora.distributions.a { files = ["a.jsonl"], {{entry}} }""", "a.jsonl");

        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_missing_file_names_the_entry_and_the_resolved_path()
    {
        var e = Bad("""corpora.distributions.a { files = ["a.jsonl", "gone.jsonl"] }""", "a.jsonl");

        Assert.Contains("corpora.distributions.a.files[1] = \"gone.jsonl\": no such file", e.Message);
        Assert.Contains(Path.Combine(folder, "gone.jsonl"), e.Message);
    }

    [Fact]
    public void A_wildcard_that_matches_nothing_is_an_error()
    {
        var e = Bad("""corpora.distributions.a { files = ["*.txt"], format = text }""");

        Assert.Contains("corpora.distributions.a.files[0] = \"*.txt\": matches no file", e.Message);
    }

    [Theory]
    [InlineData("other { }", "corpora: missing")]
    [InlineData("corpora.distributions { }", "corpora.distributions: defines no distribution")]
    [InlineData("corpora.distributions.a { format = text }", "corpora.distributions.a.files: missing")]
    [InlineData("corpora.distributions.a { files = [] }", "corpora.distributions.a.files = []: lists no file")]
    public void A_missing_section_is_named(string hocon, string message)
    {
        Assert.Contains(message, Bad(hocon).Message);
    }

    [Fact]
    public void A_manifest_that_does_not_exist_is_named()
    {
        var path = Path.Combine(folder, "none.hocon");

        var e = Assert.Throws<CorpusException>(() => CorpusManifestLoader.Load(path));

        Assert.Equal(path, e.File);
    }
}
