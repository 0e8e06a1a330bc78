using System.Globalization;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Logging;
using Spectre.Console;

namespace LifelongMoE.Host.Training;

/// <summary>
/// Shows a run's progress: on a terminal, a live Spectre.Console display with one bar per phase; otherwise
/// (a log file, CI) one plain line every tenth of a phase, so logs stay readable.
/// </summary>
internal static class ProgressDisplay
{
    /// <summary>
    /// Runs <paramref name="run"/>, handing it the progress callback. The callback may be called from any thread.
    /// </summary>
    public static async Task<T> RunAsync<T>(
        IAnsiConsole console, TextWriter output, bool interactive, Func<Action<TrainingProgress>, Task<T>> run)
    {
        if (!interactive) return await run(new PlainLines(output).OnProgress);

        return await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new ProgressBarColumn(), new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
            .StartAsync(async ctx =>
            {
                var bars = new PhaseBars(ctx);
                using var logs = LogSink.Redirect(line => console.WriteLine(line));
                var result = await run(bars.OnProgress);
                bars.Complete();
                return result;
            });
    }

    /// <summary>Phase number as shown to people (TrainingProgress.Phase already counts from 1).</summary>
    public static int PhaseNumber(TrainingProgress p) => p.Phase;

    public static string Describe(TrainingProgress p)
    {
        var inv = CultureInfo.InvariantCulture;
        var distill = p.Distillation > 0 ? string.Create(inv, $", distill {p.Distillation:F3}") : "";
        return string.Create(inv,
            $"phase {PhaseNumber(p)}/{p.Phases} {p.Distribution} step {p.Step}/{p.StepsInPhase} " +
            $"loss {p.Loss:F3} (ce {p.CrossEntropy:F3}{distill}) {p.TokensPerSecond:N0} tok/s ETA {Eta(p.Eta)}");
    }

    public static string Eta(TimeSpan eta) =>
        eta < TimeSpan.Zero ? "?"
        : eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : eta.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    /// <summary>Lines at the first and last step of a phase and every tenth of it in between.</summary>
    internal sealed class PlainLines(TextWriter output)
    {
        private readonly object gate = new();

        public void OnProgress(TrainingProgress p)
        {
            int every = Math.Max(1, p.StepsInPhase / 10);
            if (p.Step != 1 && p.Step != p.StepsInPhase && p.Step % every != 0) return;

            lock (gate)
            {
                output.WriteLine(Describe(p));
                output.Flush();
            }
        }
    }

    private sealed class PhaseBars(ProgressContext ctx)
    {
        private readonly object gate = new();
        private ProgressTask? bar;
        private int phase = -1;

        public void OnProgress(TrainingProgress p)
        {
            lock (gate)
            {
                if (bar is null || p.Phase != phase)
                {
                    bar?.StopTask();
                    bar = ctx.AddTask(Markup.Escape(Describe(p)), maxValue: Math.Max(1, p.StepsInPhase));
                    phase = p.Phase;
                }

                bar.MaxValue = Math.Max(1, p.StepsInPhase);
                bar.Value = p.Step;
                bar.Description = Markup.Escape(Describe(p));
            }
        }

        public void Complete()
        {
            lock (gate) bar?.StopTask();
        }
    }
}
