using System.Text.Json;
using Akka.Configuration;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;

namespace LifelongMoE.Host.Commands;

/// <summary>A running training cannot be found or does not answer. Exit code 1.</summary>
internal sealed class ControlException(string message) : Exception(message);

/// <summary>Where a running training is: its cluster address and its phase supervisor's path.</summary>
internal sealed record TrainerAddress(string Address, string Supervisor)
{
    /// <summary>What <see cref="TrainingRun"/> writes into the output directory once its node is up.</summary>
    public const string ClusterFile = "cluster.json";

    /// <summary>
    /// The trainer named by --seed-node, else the one whose output directory is lifelong-moe.out (--out), else
    /// the one that wrote the newest runs/*/cluster.json under the working directory.
    /// </summary>
    /// <exception cref="ControlException">none of them gives an address</exception>
    public static TrainerAddress Resolve(CommandLine command, Config config)
    {
        if (command.Options.TryGetValue("seed-node", out var seed))
        {
            if (!seed.StartsWith("akka.tcp://"))
                throw new UsageException($"--seed-node {seed}: expected akka.tcp://{TrainingRun.SystemName}@HOST:PORT");
            var address = seed.TrimEnd('/');
            return new TrainerAddress(address, address + TrainingRun.SupervisorProxyPath);
        }

        var outDir = config.GetString("lifelong-moe.out", "");
        if (outDir.Length > 0) return FromFile(Path.Combine(Path.GetFullPath(outDir), ClusterFile));

        var runs = Path.Combine(Directory.GetCurrentDirectory(), "runs");
        var newest = Directory.Exists(runs)
            ? Directory.GetFiles(runs, ClusterFile, SearchOption.AllDirectories).MaxBy(File.GetLastWriteTimeUtc)
            : null;
        return newest is not null
            ? FromFile(newest)
            : throw new ControlException(
                $"no running training found under {runs}: give --seed-node ADDRESS, or --out DIR of the run");
    }

    private static TrainerAddress FromFile(string path)
    {
        if (!File.Exists(path))
            throw new ControlException($"{path}: no such file; the training writes it once its node is up");

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var address = doc.RootElement.GetProperty("address").GetString()!;
            var supervisor = doc.RootElement.TryGetProperty("supervisor", out var s)
                ? s.GetString()!
                : address + TrainingRun.SupervisorProxyPath;
            return new TrainerAddress(address, supervisor);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ControlException($"{path}: not a cluster address file ({e.Message})");
        }
    }
}
