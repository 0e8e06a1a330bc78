namespace LifelongMoE.Host.Tests.EndToEnd;

/// <summary>The corpora verb lists every shipped distribution with its size in bytes and tokens.</summary>
public class CorporaVerbSpec
{
    [Fact]
    public void Corpora_lists_the_five_distributions_with_bytes_and_tokens()
    {
        var result = CliRunner.Run(TimeSpan.FromMinutes(2), "corpora");

        Assert.True(result.ExitCode == 0, result.Error);
        var expected = new Dictionary<string, string>
        {
            ["fiction"] = "4,018,852", ["scripture"] = "4,136,660", ["legal"] = "1,845,932",
            ["computing"] = "5,548,047", ["code"] = "5,535,999",
        };
        foreach (var (name, bytes) in expected)
        {
            var row = result.Output.Split('\n').SingleOrDefault(l => l.Contains($" {name} "));
            Assert.True(row is not null, $"no row for {name} in:\n{result.Output}");
            // With the byte tokenizer the token count equals the byte count: both columns show it.
            Assert.Equal(2, row!.Split(bytes).Length - 1);
        }
    }

    [Fact]
    public void Corpora_with_a_missing_corpus_file_names_it_and_exits_1()
    {
        var dir = CliRunner.TempDirectory("corpora-missing");
        var manifest = Path.Combine(dir, "manifest.hocon");
        File.WriteAllText(manifest, """
            corpora {
              root = "."
              order = [gone]
              distributions { gone { files = ["corpora/gone.jsonl.gz"], format = jsonl, text-field = text } }
              holdout { every = 20, offset = 19 }
            }
            """);

        var result = CliRunner.Run(TimeSpan.FromMinutes(2), "corpora", $"corpus-manifest={manifest}");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("gone.jsonl.gz", result.Error);
    }
}
