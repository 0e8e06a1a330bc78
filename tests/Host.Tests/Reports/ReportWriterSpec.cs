using System.Text.Json;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Reports;

namespace LifelongMoE.Host.Tests.Reports;

public class ReportWriterSpec
{
    public static RunReport SampleReport()
    {
        PhaseReport Phase(int i, string distribution, int experts) => new(
            $"phase-{i}", distribution, 10, 2560, 1.5 * i, experts,
            Enumerable.Range(0, experts)
                .ToDictionary(e => $"L1-E{e}", e => $"checkpoints/p{i}/experts/L1-E{e}.safetensors"),
            $"checkpoints/p{i}", 3.0 - 0.25 * i);

        return new RunReport(
            "lifelong",
            ["fiction", "scripture", "legal"],
            [Phase(1, "fiction", 2), Phase(2, "scripture", 3), Phase(3, "legal", 4)],
            [[1.234, 2.0, 2.1], [1.5, 1.3, 2.0], [1.6, 1.4, 1.2]],
            4321.5, "cpu", "bytes", 55_712, new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), 12.5);
    }

    [Fact]
    public void Report_json_has_every_key_of_the_contract()
    {
        var dir = Repository.TempDirectory("report");

        var files = ReportWriter.Write(dir, SampleReport());

        using var doc = JsonDocument.Parse(File.ReadAllText(files.Json));
        var root = doc.RootElement;
        foreach (var key in new[] { "strategy", "distributions", "phases", "eval", "tokens_per_second", "device",
                     "tokenizer", "parameters", "started", "seconds" })
            Assert.True(root.TryGetProperty(key, out _), $"report.json lacks '{key}'");

        var phase = root.GetProperty("phases")[1];
        foreach (var key in new[] { "name", "distribution", "steps", "tokens", "seconds", "experts_per_layer",
                     "experts", "checkpoint", "final_train_loss" })
            Assert.True(phase.TryGetProperty(key, out _), $"a phase of report.json lacks '{key}'");

        Assert.Equal("lifelong", root.GetProperty("strategy").GetString());
        Assert.Equal(3, phase.GetProperty("experts_per_layer").GetInt32());
        Assert.Equal("checkpoints/p2/experts/L1-E2.safetensors",
            phase.GetProperty("experts").GetProperty("L1-E2").GetString());
        Assert.Equal(1.3, root.GetProperty("eval")[1][1].GetDouble());
        Assert.Equal(55_712, root.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void A_distribution_not_evaluated_is_null_in_json_and_a_dash_in_markdown()
    {
        var dir = Repository.TempDirectory("report-nan");
        var nan = double.NaN;
        var report = SampleReport() with { Eval = [[1.0, nan, nan], [1.1, 1.2, nan], [1.2, 1.3, 1.4]] };

        var files = ReportWriter.Write(dir, report);

        using var doc = JsonDocument.Parse(File.ReadAllText(files.Json));
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("eval")[0][1].ValueKind);
        Assert.Contains("| phase-1 | fiction | 2 | 1.000 | - | - |", File.ReadAllText(files.Markdown));
    }

    [Fact]
    public void Report_md_holds_the_matrix_with_three_decimals_and_the_settings()
    {
        var dir = Repository.TempDirectory("report-md");
        var settings = Configuration.RunSettingsFixture.Tiny();

        var files = ReportWriter.Write(dir, SampleReport(), settings);

        var md = File.ReadAllText(files.Markdown);
        Assert.Contains("| phase | trained on | experts/layer | fiction | scripture | legal |", md);
        Assert.Contains("| phase-2 | scripture | 3 | 1.500 | 1.300 | 2.000 |", md);
        Assert.Contains("Mean forgetting: 0.233 bits/byte", md);
        Assert.Contains("| model | context 32, d-model 32", md);
        Assert.Contains("\"settings\"", File.ReadAllText(files.Json));
    }

    [Fact]
    public void Files_are_written_whole_and_no_temporary_file_is_left()
    {
        var dir = Repository.TempDirectory("report-atomic");

        ReportWriter.Write(dir, SampleReport());
        ReportWriter.Write(dir, SampleReport() with { Strategy = "finetune" });

        Assert.Equal(new[] { "forgetting.png", "report.json", "report.md" },
            Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        Assert.Equal("finetune", ReportDocument.Read(Path.Combine(dir, "report.json")).Strategy);
    }

    [Fact]
    public void The_forgetting_plot_renders_headless_as_a_png()
    {
        var dir = Repository.TempDirectory("report-png");

        var files = ReportWriter.Write(dir, SampleReport());

        Assert.True(files.PlotError is null, files.PlotError);
        var png = File.ReadAllBytes(files.Plot!);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Fact]
    public void Json_reads_back_to_the_same_numbers()
    {
        var dir = Repository.TempDirectory("report-read");
        var files = ReportWriter.Write(dir, SampleReport());

        var doc = ReportDocument.Read(files.Json);

        Assert.Equal(ReportDocument.From(SampleReport()).Eval, doc.Eval);
        Assert.Equal(new[] { "fiction", "scripture", "legal" }, doc.Distributions);
        Assert.Equal(4, doc.Phases[2].ExpertsPerLayer);
    }

    [Fact]
    public void Forgetting_is_final_minus_best_after_training_averaged_over_all_but_the_last()
    {
        var doc = ReportDocument.From(SampleReport());

        Assert.Equal(1.6 - 1.234, ForgettingMatrix.Forgetting(doc, 0)!.Value, 9);
        Assert.Equal(1.4 - 1.3, ForgettingMatrix.Forgetting(doc, 1)!.Value, 9);
        Assert.Equal(0.0, ForgettingMatrix.Forgetting(doc, 2)!.Value, 9);
        Assert.Equal((1.6 - 1.234 + 0.1) / 2, ForgettingMatrix.MeanForgetting(doc)!.Value, 9);
        Assert.Equal((1.6 + 1.4 + 1.2) / 3, ForgettingMatrix.FinalMean(doc)!.Value, 9);
    }
}
