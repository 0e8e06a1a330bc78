using System.Text.Json;
using Xunit.Abstractions;

namespace LifelongMoE.Host.Tests.EndToEnd;

/// <summary>A tiny lifelong run over two distributions, trained once through the real executable.</summary>
public sealed class TinyTrainedRun
{
    public static readonly string[] Distributions = ["distributions=[fiction,scripture]"];

    public TinyTrainedRun()
    {
        Directory = CliRunner.TempDirectory("checkpoint-verbs");
        var result = CliRunner.Run(TimeSpan.FromMinutes(4),
            ["train", "--preset", "tiny", "--out", Directory, .. Distributions]);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"train exited with {result.ExitCode}: {result.Error}");

        Report = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "report.json"))).RootElement;
        Checkpoints = System.IO.Directory.GetDirectories(Path.Combine(Directory, "checkpoints"))
            .Order(StringComparer.Ordinal).ToList();
        PhaseEnds = Checkpoints.Where(c => c.EndsWith("-end", StringComparison.Ordinal)).ToList();
    }

    /// <summary>The run's output directory.</summary>
    public string Directory { get; }

    public JsonElement Report { get; }

    /// <summary>Every checkpoint directory of the run, oldest first (their names start with the step).</summary>
    public IReadOnlyList<string> Checkpoints { get; }

    /// <summary>The checkpoints written at each phase's end: the weights each row of the report measured.</summary>
    public IReadOnlyList<string> PhaseEnds { get; }

    /// <summary>A copy of the run's checkpoints folder in a run directory of its own, to damage at will.</summary>
    public string CopyOfRun(string name)
    {
        var copy = CliRunner.TempDirectory(name);
        foreach (var file in System.IO.Directory.GetFiles(Path.Combine(Directory, "checkpoints"), "*",
                     SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(Directory, file));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return copy;
    }
}

/// <summary>
/// eval and generate through the real executable, on checkpoints a real training run wrote: the numbers match the
/// run's own report, sampling is reproducible, and a missing or damaged checkpoint is an error naming the file.
/// </summary>
public class CheckpointVerbsEndToEndSpec(TinyTrainedRun run, ITestOutputHelper output) : IClassFixture<TinyTrainedRun>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    // Sampling runs one small forward pass per token. With other tests busy on every core, torch's spinning
    // intra-op threads slow that by an order of magnitude (measured: 1 s against 16 s for 100 tokens), so these
    // processes keep to one thread.
    private CliRunner.Result Cli(params string[] args)
    {
        var result = CliRunner.Run(Timeout, [.. args, "threads=1"]);
        output.WriteLine($"lifelongmoe {string.Join(' ', args)} -> {result.ExitCode}");
        output.WriteLine(result.Output);
        output.WriteLine(result.Error);
        return result;
    }

    [Fact]
    public void Eval_of_a_run_takes_its_newest_checkpoint_and_matches_the_final_row_of_its_report()
    {
        var json = Path.Combine(CliRunner.TempDirectory("eval-json"), "results.json");

        var result = Cli(["eval", "--preset", "tiny", "--checkpoint", run.Directory, "--out", json,
            .. TinyTrainedRun.Distributions]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"checkpoint {run.Checkpoints[^1]}", result.Output);
        Assert.Contains("bits/byte", result.Output);
        Assert.Contains("scripture", result.Output);

        var doc = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.Equal(run.Checkpoints[^1], doc.GetProperty("checkpoint").GetString());
        Assert.Equal("bytes", doc.GetProperty("tokenizer").GetString());
        var rows = doc.GetProperty("distributions").EnumerateArray().ToList();
        Assert.Equal(new[] { "fiction", "scripture" }, rows.Select(r => r.GetProperty("name").GetString()));

        // The evaluation after the last phase ran on the same weights and held-out sets, through the actors.
        var final = run.Report.GetProperty("eval").EnumerateArray().Last().EnumerateArray()
            .Select(v => v.GetDouble()).ToList();
        for (int d = 0; d < rows.Count; d++)
            Assert.Equal(final[d], rows[d].GetProperty("bits_per_byte").GetDouble(), 1e-6);
        Assert.Equal(final.Average(), doc.GetProperty("mean_bits_per_byte").GetDouble(), 1e-6);
    }

    [Fact]
    public void Eval_of_one_checkpoint_covers_every_distribution_of_the_manifest_and_writes_eval_json_into_a_folder()
    {
        var folder = CliRunner.TempDirectory("eval-folder");

        var result = Cli("eval", "--preset", "tiny", "--checkpoint", run.PhaseEnds[0], "--out", folder);

        Assert.Equal(0, result.ExitCode);
        var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "eval.json"))).RootElement;
        var names = doc.GetProperty("distributions").EnumerateArray().Select(r => r.GetProperty("name").GetString());
        Assert.Equal(new[] { "fiction", "scripture", "legal", "computing", "code" }, names);

        // The first two are the report's row after phase 1, evaluated on the same checkpoint.
        var first = run.Report.GetProperty("eval")[0].EnumerateArray().Select(v => v.GetDouble()).ToList();
        var measured = doc.GetProperty("distributions").EnumerateArray()
            .Select(r => r.GetProperty("bits_per_byte").GetDouble()).ToList();
        Assert.Equal(first[0], measured[0], 1e-6);
        Assert.Equal(first[1], measured[1], 1e-6);
    }

    [Fact]
    public void Generate_continues_the_prompt_and_the_same_seed_gives_the_same_text()
    {
        string[] args = ["generate", "--checkpoint", run.Directory, "--prompt", "In the beginning", "--max-tokens",
            "40", "--seed", "5"];

        var first = Cli(args);
        var second = Cli(args);
        var other = Cli([.. args[..^1], "6"]);

        Assert.Equal(0, first.ExitCode);
        Assert.StartsWith("In the beginning", first.Output);
        Assert.True(first.Output.TrimEnd('\n').Length > "In the beginning".Length, "nothing was sampled");
        Assert.Contains($"sampling from {run.Checkpoints[^1]}", first.Error);
        Assert.Equal(first.Output, second.Output);
        Assert.NotEqual(first.Output, other.Output);
    }

    [Fact]
    public void Greedy_generation_ignores_the_seed()
    {
        string[] args = ["generate", "--checkpoint", run.Checkpoints[^1], "--prompt", "The", "--max-tokens", "20",
            "--temperature", "0", "--top-k", "3"];

        var a = Cli([.. args, "--seed", "1"]);
        var b = Cli([.. args, "--seed", "2"]);

        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Output, b.Output);
    }

    [Fact]
    public void A_missing_checkpoint_exits_1_with_a_message_naming_it()
    {
        var missing = Path.Combine(run.Directory, "checkpoints", "00000099-nowhere-end");

        var result = Cli("generate", "--checkpoint", missing, "--prompt", "x");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"lifelongmoe: error: {missing}: no such checkpoint directory", result.Error);
        Assert.DoesNotContain("   at ", result.Error);
    }

    [Fact]
    public void A_corrupted_checkpoint_file_exits_1_with_a_message_naming_the_file()
    {
        var copy = run.CopyOfRun("corrupt");
        var checkpoint = Directory.GetDirectories(Path.Combine(copy, "checkpoints")).Max(StringComparer.Ordinal)!;
        var expert = Directory.GetFiles(Path.Combine(checkpoint, "experts")).Order(StringComparer.Ordinal).First();
        var bytes = File.ReadAllBytes(expert);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(expert, bytes);

        var eval = Cli("eval", "--preset", "tiny", "--checkpoint", checkpoint);
        var generate = Cli("generate", "--checkpoint", checkpoint);

        Assert.Equal((1, 1), (eval.ExitCode, generate.ExitCode));
        var message = $"lifelongmoe: error: {expert}: checksum does not match the manifest";
        Assert.Contains(message, eval.Error);
        Assert.Contains(message, generate.Error);
    }

    [Fact]
    public void A_run_whose_newest_checkpoint_is_damaged_falls_back_to_the_one_before_with_a_warning()
    {
        var copy = run.CopyOfRun("fallback");
        var newest = Directory.GetDirectories(Path.Combine(copy, "checkpoints")).Max(StringComparer.Ordinal)!;
        var trunk = Path.Combine(newest, "trunk.safetensors");
        File.Delete(trunk);

        var result = Cli(["eval", "--preset", "tiny", "--checkpoint", copy, .. TinyTrainedRun.Distributions]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"warning: passed over {trunk}: listed in the manifest but missing", result.Output);
        Assert.Contains($"checkpoint {Path.Combine(copy, "checkpoints", Path.GetFileName(run.Checkpoints[^2]))}",
            result.Output);
    }

    [Fact]
    public void A_tokenizer_that_does_not_fit_the_checkpoint_exits_1_naming_both()
    {
        var result = Cli("generate", "--checkpoint", run.Directory, "tokenizer=gpt2");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("lifelong-moe.tokenizer = \"gpt2\": 50257 tokens, but the model in " +
                        $"{run.Checkpoints[^1]} has a vocabulary of 256; it fits tokenizer=bytes", result.Error);
    }
}
