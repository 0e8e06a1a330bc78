using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Data;
using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// The checkpoint that --checkpoint names, verified against its manifest and loaded into this process (no actors),
/// on the configured device, with the configured tokenizer. The option names a checkpoint directory, or a run's
/// output directory: then the newest complete checkpoint under its checkpoints/ folder.
/// </summary>
internal sealed class LoadedCheckpoint : IDisposable
{
    /// <summary>Where a training run writes its checkpoints, under its output directory.</summary>
    public const string RunFolder = "checkpoints";

    private LoadedCheckpoint(string directory, MoeTransformer model, ITokenizer tokenizer, Device device)
    {
        Directory = directory;
        Model = model;
        Tokenizer = tokenizer;
        Device = device;
    }

    /// <summary>The checkpoint directory itself, absolute, also when --checkpoint named a run.</summary>
    public string Directory { get; }

    public MoeTransformer Model { get; }

    public ITokenizer Tokenizer { get; }

    public Device Device { get; }

    /// <param name="warn">told of each damaged checkpoint passed over in a run's checkpoints folder</param>
    /// <exception cref="UsageException">--checkpoint is not given</exception>
    /// <exception cref="CheckpointException">the checkpoint is missing, incomplete or corrupt</exception>
    /// <exception cref="SettingsException">the configured tokenizer does not fit the checkpoint</exception>
    public static LoadedCheckpoint Open(CommandLine command, RunSettings settings, Action<string> warn)
    {
        var directory = Resolve(command.RequiredOption("checkpoint", "DIR"), warn);
        CheckpointDirectory.Verify(directory);

        var tokenizer = Tokenizers.Create(settings.Tokenizer);
        var (config, _) = ModelCheckpoint.ReadLayout(directory);
        if (config.VocabSize != tokenizer.VocabSize)
            throw VocabularyMismatch(settings.Tokenizer, tokenizer.VocabSize, directory, config.VocabSize);

        if (settings.Threads > 0) torch.set_num_threads(settings.Threads);
        var device = new Device(settings.Device);
        var model = ModelCheckpoint.Load(directory);
        model.to(device);
        return new LoadedCheckpoint(directory, model, tokenizer, device);
    }

    private static string Resolve(string path, Action<string> warn)
    {
        var full = Path.GetFullPath(path);
        if (!System.IO.Directory.Exists(full)) throw new CheckpointException(full, "no such checkpoint directory");

        var runFolder = Path.Combine(full, RunFolder);
        bool isRun = !File.Exists(Path.Combine(full, CheckpointDirectory.ManifestName))
                     && System.IO.Directory.Exists(runFolder);
        if (!isRun) return full;

        return CheckpointDirectory.LatestComplete(runFolder, problem => warn($"passed over {problem}"))
               ?? throw new CheckpointException(runFolder, "holds no complete checkpoint");
    }

    private static SettingsException VocabularyMismatch(string name, int tokens, string directory, int vocabulary)
    {
        var fitting = Tokenizers.Names.FirstOrDefault(n => Tokenizers.Create(n).VocabSize == vocabulary);
        var hint = fitting is null ? "" : $"; it fits tokenizer={fitting}";
        return new SettingsException($"{RunSettingsBinding.Section}.tokenizer", $"\"{name}\"",
            $"{tokens} tokens, but the model in {directory} has a vocabulary of {vocabulary}{hint}");
    }

    public void Dispose() => Model.Dispose();
}
