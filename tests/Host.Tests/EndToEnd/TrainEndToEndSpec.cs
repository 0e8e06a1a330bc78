using System.Text.Json;
using Xunit.Abstractions;

namespace LifelongMoE.Host.Tests.EndToEnd;

/// <summary>
/// The main job end to end, through the real executable: the tiny preset over three distributions, checked
/// against the report.json contract, and the freezing guarantee checked on the checkpoint files themselves.
/// </summary>
public class TrainEndToEndSpec(ITestOutputHelper output)
{
    private static readonly string[] ThreeDistributions = ["distributions=[fiction,scripture,legal]"];

    private JsonElement Train(string outDir, params string[] extra)
    {
        var result = CliRunner.Run(TimeSpan.FromMinutes(4),
            ["train", "--preset", "tiny", "--out", outDir, .. ThreeDistributions, .. extra]);
        output.WriteLine(result.Output.Length > 3000 ? result.Output[^3000..] : result.Output);
        output.WriteLine(result.Error);
        Assert.True(result.ExitCode == 0, $"train exited with {result.ExitCode}: {result.Error}");
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json"))).RootElement;
    }

    [Fact]
    public void Tiny_lifelong_run_writes_a_report_that_meets_the_contract_and_keeps_phase_one_experts_bitwise()
    {
        var outDir = CliRunner.TempDirectory("e2e-lifelong");
        var report = Train(outDir);

        Assert.Equal("lifelong", report.GetProperty("strategy").GetString());
        var distributions = report.GetProperty("distributions").EnumerateArray().Select(d => d.GetString()).ToList();
        Assert.Equal(new[] { "fiction", "scripture", "legal" }, distributions);
        Assert.True(report.GetProperty("tokens_per_second").GetDouble() > 0);

        var phases = report.GetProperty("phases").EnumerateArray().ToList();
        Assert.Equal(3, phases.Count);
        int previousExperts = 0;
        for (int i = 0; i < phases.Count; i++)
        {
            var p = phases[i];
            Assert.Equal(distributions[i], p.GetProperty("distribution").GetString());
            Assert.False(string.IsNullOrEmpty(p.GetProperty("name").GetString()));
            Assert.True(p.GetProperty("steps").GetInt32() > 0);
            Assert.True(p.GetProperty("tokens").GetInt64() > 0);
            Assert.True(p.GetProperty("seconds").GetDouble() > 0);
            int experts = p.GetProperty("experts_per_layer").GetInt32();
            Assert.True(experts > previousExperts, $"phase {i + 1} did not grow: {experts} experts per layer");
            previousExperts = experts;

            var files = p.GetProperty("experts").EnumerateObject().ToList();
            Assert.NotEmpty(files);
            foreach (var f in files)
            {
                Assert.Matches(@"^L\d+-E\d+$", f.Name);
                Assert.False(Path.IsPathRooted(f.Value.GetString()!));
                Assert.True(File.Exists(Path.Combine(outDir, f.Value.GetString()!)), $"missing {f.Value}");
            }
        }

        var eval = report.GetProperty("eval").EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetDouble()).ToArray())
            .ToArray();
        Assert.Equal(3, eval.Length);
        Assert.All(eval, row => Assert.Equal(3, row.Length));
        Assert.All(eval.SelectMany(r => r), v => Assert.InRange(v, 0.5, 9.0));
        Assert.True(File.Exists(Path.Combine(outDir, "report.md")));

        // Freezing end to end: every expert written at the end of phase 1 is bitwise the same expert at the end.
        var first = phases[0].GetProperty("experts").EnumerateObject().ToList();
        var last = phases[^1].GetProperty("experts");
        foreach (var expert in first)
        {
            var before = File.ReadAllBytes(Path.Combine(outDir, expert.Value.GetString()!));
            var after = File.ReadAllBytes(Path.Combine(outDir, last.GetProperty(expert.Name).GetString()!));
            Assert.True(before.AsSpan().SequenceEqual(after), $"frozen expert {expert.Name} changed after phase 1");
        }
    }

    [Fact]
    public void Finetune_run_keeps_its_size_and_moves_every_expert()
    {
        var outDir = CliRunner.TempDirectory("e2e-finetune");
        var report = Train(outDir, "--strategy", "finetune");

        Assert.Equal("finetune", report.GetProperty("strategy").GetString());
        var phases = report.GetProperty("phases").EnumerateArray().ToList();
        var sizes = phases.Select(p => p.GetProperty("experts_per_layer").GetInt32()).Distinct().ToList();
        Assert.Single(sizes);

        // The same check that passes for the lifelong run fails here: without freezing, experts move.
        var first = phases[0].GetProperty("experts").EnumerateObject().ToList();
        var last = phases[^1].GetProperty("experts");
        int changed = first.Count(e => !File.ReadAllBytes(Path.Combine(outDir, e.Value.GetString()!)).AsSpan()
            .SequenceEqual(File.ReadAllBytes(Path.Combine(outDir, last.GetProperty(e.Name).GetString()!))));
        Assert.Equal(first.Count, changed);
    }
}
