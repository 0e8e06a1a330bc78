using Akka.Configuration;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using LifelongMoE.Host.Reports;
using LifelongMoE.Host.Training;
using LifelongMoE.Model.Checkpoints;
using Spectre.Console;

namespace LifelongMoE.Host.Commands;

/// <summary>The signature of <see cref="TrainingRun.RunAsync"/>; tests put a scripted run in its place.</summary>
internal delegate Task<RunReport> TrainingRunner(
    Config fullConfig, RunSettings settings, Action<TrainingProgress> onProgress, CancellationToken ct);

/// <summary>
/// <c>lifelongmoe train</c>: binds the settings, prepares the output directory, runs the training with a
/// progress display and TensorBoard logging, then writes the report and prints the forgetting matrix.
/// </summary>
internal static class TrainCommand
{
    /// <summary>The effective lifelong-moe section, written into the output directory for the record.</summary>
    public const string SettingsFile = "settings.hocon";

    public static async Task<int> RunAsync(
        CommandLine command, IAnsiConsole console, TextWriter output, bool interactive, TrainingRunner runner,
        CancellationToken ct)
    {
        var config = ConfigLayers.Load(command);
        var settings = RunSettingsBinding.FromConfig(config);
        RunSettingsBinding.RequireDeviceAvailable(settings.Device);
        var outDir = settings.OutputDirectory;
        if (File.Exists(Path.Combine(outDir, ReportWriter.JsonFile)))
            throw new SettingsException("lifelong-moe.out", $"\"{outDir}\"",
                "already holds a finished run (report.json); choose another --out");

        Directory.CreateDirectory(outDir);
        AtomicFile.WriteText(Path.Combine(outDir, SettingsFile),
            HoconText.Section(RunSettingsBinding.Section, config.GetValue(RunSettingsBinding.Section)));

        console.WriteLine($"{settings.Train.Strategy.ToString().ToLowerInvariant()} training on " +
                          $"{string.Join(", ", Distributions(settings))} ({settings.StepsPerPhase} steps each, " +
                          $"{settings.Device}); output in {outDir}");

        RunReport report;
        using (var log = new TrainingLog(outDir, settings))
        {
            var onLog = Guarded(log.OnProgress, console);
            report = await ProgressDisplay.RunAsync(console, output, interactive,
                show => runner(config, settings, p => { onLog(p); show(p); }, ct));
            log.OnFinished(report);
        }

        var files = ReportWriter.Write(outDir, report, settings);
        ConsoleReport.Matrix(console, ReportDocument.From(report));
        console.WriteLine($"report: {files.Json}, {files.Markdown}" + (files.Plot is { } plot ? $", {plot}" : ""));
        if (files.PlotError is { } why) console.WriteLine($"warning: no {ReportWriter.PlotFile}: {why}");
        if (!ct.IsCancellationRequested) return Usage.Ok;

        console.WriteLine($"stopped by request after {report.Phases.Count} complete phase(s)");
        return Usage.Cancelled;
    }

    private static IReadOnlyList<string> Distributions(RunSettings settings) =>
        settings.Distributions.Count > 0
            ? settings.Distributions
            : CorpusManifestLoader.Load(settings.CorpusManifest).Distributions.Select(d => d.Name).ToList();

    // Losing the TensorBoard log (disk full, say) must not stop a training run: warn once and go on.
    private static Action<TrainingProgress> Guarded(Action<TrainingProgress> log, IAnsiConsole console)
    {
        int failed = 0;
        return p =>
        {
            if (Volatile.Read(ref failed) != 0) return;
            try
            {
                log(p);
            }
            catch (IOException e)
            {
                if (Interlocked.Exchange(ref failed, 1) == 0)
                    console.WriteLine($"warning: TensorBoard log stopped: {e.Message}");
            }
        };
    }
}
