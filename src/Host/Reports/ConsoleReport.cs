using System.Globalization;
using Spectre.Console;

namespace LifelongMoE.Host.Reports;

/// <summary>The forgetting matrix of a run, and the comparison of two, as console tables.</summary>
internal static class ConsoleReport
{
    public static void Matrix(IAnsiConsole console, ReportDocument r, string? title = null)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape(title ?? $"held-out bits per byte after each phase ({r.Strategy})"));
        foreach (var heading in ForgettingMatrix.Headings) table.AddColumn(Markup.Escape(heading));
        foreach (var d in r.Distributions) table.AddColumn(new TableColumn(Markup.Escape(d)).RightAligned());

        for (int i = 0; i < r.Phases.Count; i++)
        {
            var cells = ForgettingMatrix.RowHeading(r.Phases[i])
                .Concat(r.Distributions.Select((_, d) => ForgettingMatrix.Cell(r.At(i, d))));
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }

        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.TokensPerSecond:N0} tokens/s on {r.Device}; {r.Parameters:N0} parameters; {r.Seconds:F1} s; " +
            $"mean forgetting {ForgettingMatrix.Cell(ForgettingMatrix.MeanForgetting(r))}, " +
            $"final mean {ForgettingMatrix.Cell(ForgettingMatrix.FinalMean(r))} bits/byte"));
    }

    /// <summary>Two runs side by side: the summary numbers and each distribution's final bits per byte.</summary>
    public static void Compare(IAnsiConsole console, ReportDocument a, string aName, ReportDocument b, string bName)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("comparison");
        table.AddColumn("");
        table.AddColumn(new TableColumn(Markup.Escape($"A: {aName}")).RightAligned());
        table.AddColumn(new TableColumn(Markup.Escape($"B: {bName}")).RightAligned());
        table.AddColumn(new TableColumn("B - A").RightAligned());

        void Row(string label, double? x, double? y, string format = "F3")
        {
            string F(double? v) => v?.ToString(format, CultureInfo.InvariantCulture) ?? ForgettingMatrix.Missing;
            var change = x is { } p && y is { } q ? F(q - p) : ForgettingMatrix.Missing;
            table.AddRow(Markup.Escape(label), F(x), F(y), change);
        }

        table.AddRow("strategy", Markup.Escape(a.Strategy), Markup.Escape(b.Strategy), "");
        Row("mean forgetting (bits/byte)", ForgettingMatrix.MeanForgetting(a), ForgettingMatrix.MeanForgetting(b));
        Row("final mean (bits/byte)", ForgettingMatrix.FinalMean(a), ForgettingMatrix.FinalMean(b));
        foreach (var d in a.Distributions.Union(b.Distributions))
            Row($"final {d}", Final(a, d), Final(b, d));
        Row("tokens/s", a.TokensPerSecond, b.TokensPerSecond, "N0");
        Row("parameters", a.Parameters, b.Parameters, "N0");
        Row("seconds", a.Seconds, b.Seconds, "F1");
        console.Write(table);
    }

    private static double? Final(ReportDocument r, string distribution)
    {
        int d = r.Distributions.ToList().IndexOf(distribution);
        return d < 0 || r.Phases.Count == 0 ? null : r.At(r.Phases.Count - 1, d);
    }
}
