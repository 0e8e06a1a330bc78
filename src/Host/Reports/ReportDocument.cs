using System.Text.Json;
using System.Text.Json.Serialization;
using LifelongMoE.Actors.Training;

namespace LifelongMoE.Host.Reports;

/// <summary>
/// The contents of report.json (snake_case keys). It is its own type, not <see cref="RunReport"/> itself, so
/// that the file format is fixed here: NaN (not evaluated) becomes null, and the file reads back for
/// <c>lifelongmoe report</c>.
/// </summary>
internal sealed record ReportDocument(
    string Strategy,
    IReadOnlyList<string> Distributions,
    IReadOnlyList<PhaseDocument> Phases,
    double?[][] Eval,
    double TokensPerSecond,
    string Device,
    string Tokenizer,
    long Parameters,
    DateTime Started,
    double Seconds,
    IReadOnlyDictionary<string, string>? Settings = null)
{
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static ReportDocument From(RunReport report, IReadOnlyDictionary<string, string>? settings = null) => new(
        report.Strategy,
        report.Distributions,
        report.Phases.Select(PhaseDocument.From).ToList(),
        report.Eval.Select(row => row.Select(Finite).ToArray()).ToArray(),
        report.TokensPerSecond,
        report.Device,
        report.Tokenizer,
        report.Parameters,
        report.Started,
        report.Seconds,
        settings);

    /// <exception cref="InvalidDataException">not a report.json this program wrote</exception>
    public static ReportDocument Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ReportDocument>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: empty report");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a report.json ({e.Message})", e);
        }
    }

    /// <summary>Held-out bits per byte of distribution <paramref name="d"/> after phase index <paramref name="phase"/>.
    /// </summary>
    public double? At(int phase, int d) => phase < Eval.Length && d < Eval[phase].Length ? Eval[phase][d] : null;

    internal static double? Finite(double v) => double.IsFinite(v) ? v : null;
}

internal sealed record PhaseDocument(
    string Name,
    string Distribution,
    int Steps,
    long Tokens,
    double Seconds,
    int ExpertsPerLayer,
    IReadOnlyDictionary<string, string> Experts,
    string Checkpoint,
    double? FinalTrainLoss)
{
    public static PhaseDocument From(PhaseReport p) => new(
        p.Name, p.Distribution, p.Steps, p.Tokens, p.Seconds, p.ExpertsPerLayer,
        p.Experts, p.Checkpoint, ReportDocument.Finite(p.FinalTrainLoss));
}
