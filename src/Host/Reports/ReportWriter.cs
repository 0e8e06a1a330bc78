using System.Globalization;
using System.Text;
using System.Text.Json;
using LifelongMoE.Actors.Training;
using LifelongMoE.Model.Checkpoints;

namespace LifelongMoE.Host.Reports;

/// <summary>What <see cref="ReportWriter.Write"/> produced; PlotError says why there is no plot.</summary>
internal sealed record ReportFiles(string Json, string Markdown, string? Plot, string? PlotError);

/// <summary>
/// Writes the report of a finished run into its output directory: report.json (the contract other tools read),
/// report.md (the same numbers for people) and forgetting.png. Each file is written under a temporary name
/// and renamed, so a reader never sees half a report.
/// </summary>
internal static class ReportWriter
{
    public const string JsonFile = "report.json";
    public const string MarkdownFile = "report.md";
    public const string PlotFile = "forgetting.png";

    public static ReportFiles Write(string outputDirectory, RunReport report, RunSettings? settings = null)
    {
        var doc = ReportDocument.From(report, settings is null ? null : Settings(settings));
        Directory.CreateDirectory(outputDirectory);

        var json = Path.Combine(outputDirectory, JsonFile);
        AtomicFile.WriteText(json, JsonSerializer.Serialize(doc, ReportDocument.Json) + "\n");

        var markdown = Path.Combine(outputDirectory, MarkdownFile);
        AtomicFile.WriteText(markdown, Markdown(doc));

        var plot = Path.Combine(outputDirectory, PlotFile);
        var plotError = ForgettingPlot.TryWrite(plot, doc);
        return new ReportFiles(json, markdown, plotError is null ? plot : null, plotError);
    }

    /// <summary>The run settings as flat key/value pairs, keyed as in hocon/base.hocon.</summary>
    public static IReadOnlyDictionary<string, string> Settings(RunSettings s)
    {
        string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
        var m = s.Model;
        var t = s.Train;
        var adam = t.AdamOptions;
        return new Dictionary<string, string>
        {
            ["device"] = s.Device,
            ["seed"] = s.Seed.ToString(CultureInfo.InvariantCulture),
            ["threads"] = s.Threads.ToString(CultureInfo.InvariantCulture),
            ["tokenizer"] = $"{s.Tokenizer} (vocab {m.VocabSize})",
            ["corpus-manifest"] = s.CorpusManifest,
            ["distributions"] = s.Distributions.Count == 0 ? "all" : string.Join(", ", s.Distributions),
            ["model"] = $"context {m.ContextLength}, d-model {m.DModel}, heads {m.NumHeads}, layers {m.NumLayers}, " +
                        $"d-ff {m.DFf}, moe-every {m.MoeEvery}, experts {m.InitialExperts}, top-k {m.TopK}, " +
                        $"capacity-factor {F(m.CapacityFactor)}",
            ["aux-losses"] = $"load-balance {F(m.LoadBalanceCoef)}, router-z {F(m.RouterZLossCoef)}",
            ["train"] = $"{Lower(t.Strategy)}, {s.StepsPerPhase} steps/phase, batch {s.BatchSize}, " +
                        $"lr {F(t.LearningRate)}, warmup {t.WarmupSteps}, min-lr-ratio {F(t.MinLrRatio)}, " +
                        $"grad-clip {F(t.GradClip)}",
            ["adamw"] = $"beta1 {F(adam.Beta1)}, beta2 {F(adam.Beta2)}, eps {F(adam.Eps)}, " +
                        $"weight-decay {F(adam.WeightDecay)}",
            ["distillation"] = $"lambda {F(t.DistillLambda)}, temperature {F(t.DistillTemperature)}",
            ["growth"] = $"{s.Growth.ExpertsPerShift} experts/shift, init {Lower(s.Growth.Init)}, " +
                         $"router-init {Lower(s.Growth.RouterInit)}, noise-std {F(s.Growth.NoiseStd)}",
            ["eval"] = $"{s.EvalSequences} sequences, batch {s.EvalBatchSize}",
            ["checkpoint"] = s.CheckpointEvery == 0 ? "at each phase end" : $"every {s.CheckpointEvery} steps",
        };
    }

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    public static string Markdown(ReportDocument r)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine($"# LifelongMoE run: {r.Strategy}");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv,
            $"Started {r.Started:yyyy-MM-dd HH:mm:ss}; {r.Seconds:F1} s; " +
            $"{r.TokensPerSecond:N0} tokens/s on {r.Device}; tokenizer {r.Tokenizer}; " +
            $"{r.Parameters:N0} parameters at the end."));
        sb.AppendLine();

        sb.AppendLine("## Held-out bits per byte after each phase");
        sb.AppendLine();
        sb.Append(ForgettingMatrix.Markdown(r));
        sb.AppendLine();
        sb.AppendLine($"Mean forgetting: {ForgettingMatrix.Cell(ForgettingMatrix.MeanForgetting(r))} bits/byte " +
                      "(final minus best after training, averaged over all but the last distribution).");
        sb.AppendLine($"Final mean: {ForgettingMatrix.Cell(ForgettingMatrix.FinalMean(r))} bits/byte " +
                      "over all distributions.");
        sb.AppendLine();

        sb.AppendLine("## Phases");
        sb.AppendLine();
        sb.AppendLine(
            "| phase | distribution | steps | tokens | seconds | experts/layer | final train loss | checkpoint |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---|");
        foreach (var p in r.Phases)
        {
            sb.AppendLine(string.Create(inv,
                $"| {p.Name} | {p.Distribution} | {p.Steps} | {p.Tokens:N0} | {p.Seconds:F1} | {p.ExpertsPerLayer} | " +
                $"{ForgettingMatrix.Cell(p.FinalTrainLoss)} | {p.Checkpoint} |"));
        }

        if (r.Settings is { Count: > 0 } settings)
        {
            sb.AppendLine();
            sb.AppendLine("## Settings");
            sb.AppendLine();
            sb.AppendLine("| key | value |");
            sb.AppendLine("|---|---|");
            foreach (var (key, value) in settings) sb.AppendLine($"| {key} | {value.Replace("|", "\\|")} |");
        }

        return sb.ToString();
    }
}
