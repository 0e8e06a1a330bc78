using System.Globalization;
using System.Text;

namespace LifelongMoE.Host.Reports;

/// <summary>
/// Reading of the evaluation matrix (rows = phases, columns = distributions, cells = held-out bits per byte):
/// its table layout, and forgetting.
/// </summary>
internal static class ForgettingMatrix
{
    public const string Missing = "-";

    public static string Cell(double? bitsPerByte) =>
        bitsPerByte is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : Missing;

    /// <summary>The row heading of a phase: its name, what it trained on, and experts per MoE layer.</summary>
    public static string[] Headings { get; } = ["phase", "trained on", "experts/layer"];

    public static string[] RowHeading(PhaseDocument p) =>
        [p.Name, p.Distribution, p.ExpertsPerLayer.ToString(CultureInfo.InvariantCulture)];

    /// <summary>The first phase that trained on distribution <paramref name="d"/>, or -1.</summary>
    public static int TrainedIn(ReportDocument r, int d)
    {
        for (int i = 0; i < r.Phases.Count; i++)
        {
            if (r.Phases[i].Distribution == r.Distributions[d]) return i;
        }

        return -1;
    }

    /// <summary>
    /// Forgetting of distribution <paramref name="d"/>: its bits per byte after the last phase minus the best
    /// (lowest) it reached from the phase that trained it on. Null when it was never trained or never evaluated.
    /// </summary>
    public static double? Forgetting(ReportDocument r, int d)
    {
        int from = TrainedIn(r, d);
        if (from < 0 || r.Phases.Count == 0) return null;

        var after = Enumerable.Range(from, r.Phases.Count - from).Select(i => r.At(i, d)).OfType<double>().ToList();
        var final = r.At(r.Phases.Count - 1, d);
        return after.Count == 0 || final is null ? null : final.Value - after.Min();
    }

    /// <summary>
    /// Mean forgetting over every distribution but the last one trained (which has had no chance to be forgotten).
    /// Null when fewer than two distributions were trained.
    /// </summary>
    public static double? MeanForgetting(ReportDocument r)
    {
        var trained = Enumerable.Range(0, r.Distributions.Count).Where(d => TrainedIn(r, d) >= 0)
            .OrderBy(d => TrainedIn(r, d)).ToList();
        var values = trained.Take(Math.Max(0, trained.Count - 1))
            .Select(d => Forgetting(r, d)).OfType<double>().ToList();
        return values.Count == 0 ? null : values.Average();
    }

    /// <summary>Mean bits per byte over every distribution after the last phase.</summary>
    public static double? FinalMean(ReportDocument r)
    {
        if (r.Phases.Count == 0) return null;
        var last = Enumerable.Range(0, r.Distributions.Count)
            .Select(d => r.At(r.Phases.Count - 1, d)).OfType<double>().ToList();
        return last.Count == 0 ? null : last.Average();
    }

    public static string Markdown(ReportDocument r)
    {
        var sb = new StringBuilder();
        var header = Headings.Concat(r.Distributions).ToList();
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Concat(header.Select((_, i) => i < Headings.Length ? "---|" : "---:|")));

        for (int i = 0; i < r.Phases.Count; i++)
        {
            var cells = RowHeading(r.Phases[i]).Concat(r.Distributions.Select((_, d) => Cell(r.At(i, d))));
            sb.AppendLine("| " + string.Join(" | ", cells) + " |");
        }

        return sb.ToString();
    }
}
