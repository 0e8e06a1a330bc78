using System.Globalization;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using LifelongMoE.Model.Generation;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// <c>lifelongmoe generate --checkpoint DIR --prompt TEXT</c>: loads a checkpoint in this process, samples a
/// continuation of the prompt and prints the prompt and continuation as one text on standard output. Which
/// checkpoint and sampling settings were used goes to standard error, so the output is the text alone.
/// </summary>
internal static class GenerateCommand
{
    public const int DefaultMaxTokens = 200;
    public const double DefaultTemperature = 0.8;

    public static int Run(CommandLine command, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var config = ConfigLayers.Load(command);
        var settings = RunSettingsBinding.FromConfig(config);
        RunSettingsBinding.RequireDeviceAvailable(settings.Device);
        var prompt = command.Options.GetValueOrDefault("prompt", "");
        int maxTokens = command.WholeNumberOption("max-tokens", DefaultMaxTokens, min: 1);
        var options = new SamplingOptions(
            Temperature: command.NumberOption("temperature", DefaultTemperature, min: 0),
            TopK: command.WholeNumberOption("top-k", 0),
            Seed: (ulong)command.WholeNumberOption("seed", settings.Seed));

        using var checkpoint = LoadedCheckpoint.Open(command, settings,
            warning => error.WriteLine($"lifelongmoe: warning: {warning}"));
        error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"lifelongmoe: sampling from {checkpoint.Directory}: temperature {options.Temperature}, " +
            $"top-k {(options.TopK == 0 ? "all" : options.TopK)}, seed {options.Seed}"));

        var tokenizer = checkpoint.Tokenizer;
        int separator = tokenizer.DocumentSeparator;
        var promptIds = tokenizer.Encode(prompt);

        // Training puts a separator before every document but the first, so the model has seen documents open
        // right after one: starting from it makes the prompt the opening of a document, and lets it be empty.
        var continuation = new List<int>();
        using var sampler = new Sampler(checkpoint.Model, options);
        foreach (var token in sampler.Continue([separator, .. promptIds], maxTokens))
        {
            ct.ThrowIfCancellationRequested();

            // The document ends here; whatever came next would be another one, unrelated to the prompt.
            if (token == separator) break;
            continuation.Add(token);
        }

        // Decoded together, so a character split between the prompt's last token and the first sampled one
        // comes out whole.
        output.WriteLine(tokenizer.Decode([.. promptIds, .. continuation]));
        return Usage.Ok;
    }
}
