using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using Spectre.Console;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// <c>lifelongmoe node</c>: joins a running training's cluster as a worker and hosts a share of the expert
/// entities until Ctrl+C, then leaves gracefully so its shards hand over to the other nodes. A worker that joins
/// takes no running expert away; it hosts experts created at the next growth. Its experts' state is in no other
/// process: when it leaves (or dies) they restart empty elsewhere, and the trainer rolls back to its last checkpoint.
/// </summary>
internal static class NodeCommand
{
    public const string Role = "worker";

    public static async Task<int> RunAsync(CommandLine command, IAnsiConsole console, CancellationToken ct)
    {
        var config = ConfigLayers.Load(command);
        var settings = RunSettingsBinding.FromConfig(config);
        RunSettingsBinding.RequireDeviceAvailable(settings.Device);
        var seed = TrainerAddress.Resolve(command, config).Address;
        int port = Port(command);

        var nodeConfig = ConfigurationFactory.ParseString(
            $"akka.remote.dot-netty.tcp.port = {port}\n" +
            $"akka.cluster.roles = [{Role}]\n" +
            $"akka.cluster.seed-nodes = [\"{seed}\"]").WithFallback(config);
        if (settings.Threads > 0) TorchSharp.torch.set_num_threads(settings.Threads);

        var system = ActorSystem.Create(TrainingRun.SystemName, nodeConfig);
        ExpertSharding.Start(system);
        console.WriteLine($"worker {Cluster.Get(system).SelfAddress} joining {seed}; Ctrl+C leaves the cluster");

        var stopped = new TaskCompletionSource();
        await using (ct.Register(() => stopped.TrySetResult()))
        {
            await Task.WhenAny(system.WhenTerminated, stopped.Task);
        }

        if (system.WhenTerminated.IsCompleted)
        {
            console.WriteLine("the cluster ended this node (the training finished, or this node was removed)");
            return Usage.Ok;
        }

        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        console.WriteLine("worker left the cluster");
        return Usage.Ok;
    }

    private static int Port(CommandLine command)
    {
        if (!command.Options.TryGetValue("port", out var text)) return 0;
        return int.TryParse(text, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new UsageException($"--port {text}: expected a port number (0 to 65535)");
    }
}
