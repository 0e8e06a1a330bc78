using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Reports;
using Spectre.Console;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// <c>lifelongmoe report A/report.json [B/report.json]</c>: prints the forgetting matrix of each run and,
/// for two, the comparison. A run's directory stands for its report.json.
/// </summary>
internal static class ReportCommand
{
    public static int Run(CommandLine command, IAnsiConsole console)
    {
        var paths = command.Arguments.Select(ReportPath).ToList();
        var reports = paths.Select(ReportDocument.Read).ToList();

        for (int i = 0; i < reports.Count; i++)
        {
            var label = reports.Count > 1 ? $"{(char)('A' + i)}: " : "";
            ConsoleReport.Matrix(console, reports[i], $"{label}{paths[i]} ({reports[i].Strategy})");
            console.WriteLine();
        }

        if (reports.Count == 2) ConsoleReport.Compare(console, reports[0], Name(paths[0]), reports[1], Name(paths[1]));
        return Usage.Ok;
    }

    private static string ReportPath(string argument)
    {
        var path = Directory.Exists(argument) ? Path.Combine(argument, ReportWriter.JsonFile) : argument;
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such report");
        return path;
    }

    private static string Name(string reportPath) =>
        Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(reportPath))) ?? reportPath;
}
