using System.Globalization;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using Spectre.Console;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// <c>lifelongmoe bench [--steps N]</c>: times the same steps in the in-process trainer and through the actor
/// pipeline, before and after a growth step (<see cref="PipelineBenchmark"/>), and prints the medians.
/// </summary>
internal static class BenchCommand
{
    public const int DefaultSteps = 20;

    public static async Task<int> RunAsync(CommandLine command, IAnsiConsole console)
    {
        var config = ConfigLayers.Load(command);
        var settings = RunSettingsBinding.FromConfig(config);
        RunSettingsBinding.RequireDeviceAvailable(settings.Device);
        int steps = command.WholeNumberOption("steps", DefaultSteps, min: 1);
        int warmup = Math.Max(2, steps / 5);

        var results = await PipelineBenchmark.RunAsync(config, settings, steps, warmup,
            stage => console.WriteLine($"timing {stage}: {warmup} warm-up + {steps} steps"));

        var inv = CultureInfo.InvariantCulture;
        var baseline = results[0].TokensPerSecond;
        var title = $"{settings.BatchSize} x {settings.SequenceLength} tokens per step on {settings.Device}";
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
        table.AddColumn("");
        foreach (var heading in new[] { "steps", "median s/step", "p90 s/step", "tokens/s", "vs in-process" })
            table.AddColumn(new TableColumn(heading).RightAligned());

        foreach (var r in results)
        {
            table.AddRow(Markup.Escape(r.Name), r.Steps.ToString(inv), r.MedianStepSeconds.ToString("F4", inv),
                r.P90StepSeconds.ToString("F4", inv), r.TokensPerSecond.ToString("N0", inv),
                (r.TokensPerSecond / baseline).ToString("F2", inv));
        }

        console.Write(table);
        return Usage.Ok;
    }
}
