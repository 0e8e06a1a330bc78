using LifelongMoE.Model.Checkpoints;
using ScottPlot;

namespace LifelongMoE.Host.Reports;

/// <summary>forgetting.png: one line per distribution, x = phase, y = held-out bits per byte.</summary>
internal static class ForgettingPlot
{
    public const int Width = 900;
    public const int Height = 540;

    /// <summary>
    /// Writes the plot and returns null, or returns why it could not (ScottPlot renders with SkiaSharp, whose
    /// native library may be missing on a machine); a run never fails for its plot.
    /// </summary>
    public static string? TryWrite(string path, ReportDocument r)
    {
        if (r.Phases.Count == 0) return "no phase finished";

        try
        {
            var png = Render(r);
            AtomicFile.Write(path, s => s.Write(png));
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException
                                      or EntryPointNotFoundException or BadImageFormatException
                                      or IOException or UnauthorizedAccessException)
        {
            return $"{e.GetType().Name}: {(e.InnerException ?? e).Message}";
        }
    }

    public static byte[] Render(ReportDocument r)
    {
        var plot = new Plot();
        var phases = Enumerable.Range(0, r.Phases.Count).ToArray();

        for (int d = 0; d < r.Distributions.Count; d++)
        {
            var points = phases.Where(i => r.At(i, d) is not null).ToArray();
            if (points.Length == 0) continue;

            var xs = points.Select(i => (double)i).ToArray();
            var ys = points.Select(i => r.At(i, d)!.Value).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = r.Distributions[d];
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }

        var ticks = phases.Select(i => new Tick(i, $"{i + 1}: {r.Phases[i].Distribution}")).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Margins(horizontal: 0.05, vertical: 0.1);
        plot.Title($"Held-out bits per byte after each phase ({r.Strategy})");
        plot.XLabel("phase: trained on");
        plot.YLabel("bits per byte");
        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }
}
