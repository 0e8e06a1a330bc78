using System.Globalization;
using System.Text.Json;
using Akka.Configuration;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Data;
using LifelongMoE.Model.Training;
using Spectre.Console;

namespace LifelongMoE.Host.Commands;

/// <summary>One distribution's held-out result: bits per byte, and the mean loss it comes from.</summary>
internal sealed record DistributionEval(
    string Name, double BitsPerByte, double LossNatsPerToken, int Sequences, long Tokens, long Bytes);

/// <summary>What <c>eval --out FILE</c> writes, as snake_case JSON.</summary>
internal sealed record EvalResult(
    string Checkpoint, string Tokenizer, int ContextLength, IReadOnlyList<DistributionEval> Distributions,
    double MeanBitsPerByte);

/// <summary>
/// <c>lifelongmoe eval --checkpoint DIR [--out FILE]</c>: loads a checkpoint in this process and measures held-out
/// bits per byte on every distribution of the configured manifest (or lifelong-moe.distributions), with the
/// same held-out sets and metric as the evaluation after each training phase.
/// </summary>
internal static class EvalCommand
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    public static int Run(CommandLine command, IAnsiConsole console, CancellationToken ct)
    {
        var config = ConfigLayers.Load(command);
        var settings = RunSettingsBinding.FromConfig(config);
        RunSettingsBinding.RequireDeviceAvailable(settings.Device);
        var jsonFile = JsonFile(config, settings);
        using var checkpoint = LoadedCheckpoint.Open(command, settings,
            warning => console.WriteLine($"warning: {warning}"));

        // Sequences as long as the checkpoint's context, which need not be the configured one.
        var context = checkpoint.Model.Config.ContextLength;
        var data = TrainingData.Load(settings with { Model = checkpoint.Model.Config });
        var rows = new List<DistributionEval>();
        for (int d = 0; d < data.Order.Count; d++)
        {
            ct.ThrowIfCancellationRequested();
            var set = data.HeldOut[d];
            double loss = Evaluation.MeanLoss(checkpoint.Model, set.Sequences, settings.EvalBatchSize,
                checkpoint.Device);
            rows.Add(new DistributionEval(data.Order[d], Metrics.BitsPerByte(loss, set.Tokens, set.Bytes), loss,
                set.Sequences.Count, set.Tokens, set.Bytes));
        }

        var result = new EvalResult(checkpoint.Directory, settings.Tokenizer, context, rows,
            rows.Average(r => r.BitsPerByte));
        console.WriteLine($"checkpoint {result.Checkpoint}");
        console.Write(Table(result, settings.EvalSequences));
        if (jsonFile is null) return Usage.Ok;

        AtomicFile.WriteText(jsonFile, JsonSerializer.Serialize(result, Json) + "\n");
        console.WriteLine($"results: {jsonFile}");
        return Usage.Ok;
    }

    /// <summary>
    /// Where --out (lifelong-moe.out) asks for the JSON results, or null: a file, or eval.json in a directory
    /// that exists.
    /// </summary>
    private static string? JsonFile(Config config, RunSettings settings)
    {
        if (config.GetString($"{RunSettingsBinding.Section}.out", "").Length == 0) return null;

        var path = settings.OutputDirectory;
        return Directory.Exists(path) ? Path.Combine(path, "eval.json") : path;
    }

    private static Table Table(EvalResult result, int maxSequences)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Rounded).Title("held-out bits per byte")
            .Caption(Markup.Escape($"{result.Tokenizer} tokenizer; up to {maxSequences} sequences of " +
                                   $"{result.ContextLength} tokens per distribution"));
        table.AddColumn("distribution");
        foreach (var heading in new[] { "sequences", "bytes", "loss (nats/token)", "bits/byte" })
            table.AddColumn(new TableColumn(Markup.Escape(heading)).RightAligned());

        foreach (var r in result.Distributions)
        {
            table.AddRow(Markup.Escape(r.Name), r.Sequences.ToString(inv), r.Bytes.ToString("N0", inv),
                r.LossNatsPerToken.ToString("F4", inv), r.BitsPerByte.ToString("F3", inv));
        }

        if (result.Distributions.Count > 1)
            table.AddRow("mean", "", "", "", result.MeanBitsPerByte.ToString("F3", inv));
        return table;
    }
}
