using System.Globalization;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using LifelongMoE.Model.Data;
using Spectre.Console;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// <c>lifelongmoe corpora</c>: reads every distribution of the manifest once, end to end, and prints its
/// documents, bytes and tokens. A broken corpus is reported and the others are still checked; the exit
/// code is 1 if any failed.
/// </summary>
internal static class CorporaCommand
{
    public static int Run(CommandLine command, IAnsiConsole console)
    {
        var config = ConfigLayers.Load(command);
        var settings = RunSettingsBinding.FromConfig(config);
        var (all, holdout) = CorpusManifestLoader.Load(settings.CorpusManifest);
        var chosen = settings.Distributions.Count == 0
            ? all
            : settings.Distributions.Select(n => all.First(d => d.Name == n)).ToList();
        var tokenizer = Tokenizers.Create(settings.Tokenizer);

        var rows = new List<CorpusStats>();
        var failures = new List<CorpusException>();
        foreach (var spec in chosen)
        {
            try
            {
                rows.Add(CorpusValidator.Validate(spec, holdout, tokenizer));
            }
            catch (CorpusException e)
            {
                failures.Add(e);
            }
        }

        console.Write(Table(settings.CorpusManifest, holdout, tokenizer.Name, chosen, rows));
        foreach (var e in failures) console.WriteLine($"error: {e.Message}");
        return failures.Count == 0 ? Usage.Ok : Usage.Failed;
    }

    private static Table Table(
        string manifest, HoldoutRule holdout, string tokenizer, IReadOnlyList<DistributionSpec> specs,
        IReadOnlyList<CorpusStats> rows)
    {
        string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"{manifest} (held out: document i with i % {holdout.Every} == {holdout.Offset})"));
        table.AddColumn("distribution");
        table.AddColumn("files");
        var numbers = new[] { "documents", "train", "held out", "bytes", $"tokens ({tokenizer})", "bytes/token" };
        foreach (var heading in numbers)
            table.AddColumn(new TableColumn(Markup.Escape(heading)).RightAligned());

        foreach (var s in rows)
        {
            var spec = specs.First(d => d.Name == s.Name);
            var perToken = s.Tokens is > 0
                ? ((double)s.Bytes / s.Tokens.Value).ToString("F2", CultureInfo.InvariantCulture)
                : "-";
            table.AddRow(
                Markup.Escape(s.Name), spec.Files.Count.ToString(CultureInfo.InvariantCulture),
                N(s.Documents), N(s.TrainDocuments), N(s.HeldOutDocuments), N(s.Bytes),
                s.Tokens is { } t ? N(t) : "-", perToken);
        }

        if (rows.Count > 1)
        {
            long tokens = rows.Sum(r => r.Tokens ?? 0);
            table.AddRow(
                "total", specs.Sum(s => s.Files.Count).ToString(CultureInfo.InvariantCulture),
                N(rows.Sum(r => r.Documents)), N(rows.Sum(r => r.TrainDocuments)), N(rows.Sum(r => r.HeldOutDocuments)),
                N(rows.Sum(r => r.Bytes)), N(tokens), "");
        }

        return table;
    }
}
