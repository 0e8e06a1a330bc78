using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using LifelongMoE.Model.Network;

namespace LifelongMoE.Actors.Training;

/// <summary>A run that ended with an error (bad input, an expert that timed out, ...).</summary>
public sealed class TrainingFailedException(string message) : Exception(message);

/// <summary>
/// Starts the actor system as a self-joined single-node cluster, the expert sharding region, the phase supervisor
/// singleton, and waits for the run to end. The cluster address is written to cluster.json in the output
/// directory, so control verbs of the CLI can reach the supervisor.
/// </summary>
public static class TrainingRun
{
    public const string SystemName = "lifelong-moe";
    public const string SupervisorPath = "/user/phase-supervisor";
    public const string SupervisorProxyPath = "/user/supervisor";

    public static async Task<RunReport> RunAsync(Config config, RunSettings settings, Action<TrainingProgress> onProgress,
        CancellationToken cancellation)
    {
        Directory.CreateDirectory(settings.OutputDirectory);
        if (settings.Threads > 0) TorchSharp.torch.set_num_threads(settings.Threads);
        var started = DateTime.UtcNow;

        var system = ActorSystem.Create(SystemName, WithJournal(config, settings.OutputDirectory));
        try
        {
            await JoinSelfAsync(system);
            var experts = ExpertSharding.Start(system);
            var finished = new TaskCompletionSource<PhaseLog>(TaskCreationOptions.RunContinuationsAsynchronously);
            var listener = system.ActorOf(RunListener.Props(finished, onProgress), "run-listener");
            system.EventStream.Subscribe(listener, typeof(TrainingProgress));

            system.ActorOf(ClusterSingletonManager.Props(PhaseSupervisor.Props(settings, experts, listener),
                PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system)), "phase-supervisor");
            // Akka.NET 1.5 logs a false "failed to find an associated singleton" warning at every proxy start
            // (its failure timer fires before the first identification can answer); the check is turned off.
            var supervisor = system.ActorOf(ClusterSingletonProxy.Props(SupervisorPath,
                ClusterSingletonProxySettings.Create(system).WithLogSingletonIdentificationFailure(false)), "supervisor");
            WriteAddress(system, settings.OutputDirectory);

            await using var _ = cancellation.Register(() => supervisor.Tell(new Stop()));
            var log = await finished.Task;
            if (log.Finished is { Completed: false, Error: not null } f && f.Error != "stopped by request")
                throw new TrainingFailedException(f.Error);
            return Report(settings, log, started);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
        }
    }

    /// <summary>Fills empty journal connection strings with the SQLite file under the output directory.</summary>
    public static Config WithJournal(Config config, string outputDirectory)
    {
        var file = config.GetString("lifelong-moe.journal", "journal.db");
        var path = Path.IsPathRooted(file) ? file : Path.Combine(outputDirectory, file);
        var connection = $"\"Data Source={path.Replace("\\", "/")}\"";
        var overrides = "";
        foreach (var key in new[] { "akka.persistence.journal.sql.connection-string",
                     "akka.persistence.snapshot-store.sql.connection-string" })
        {
            if (string.IsNullOrEmpty(config.GetString(key, ""))) overrides += $"{key} = {connection}\n";
        }
        return overrides.Length == 0 ? config : ConfigurationFactory.ParseString(overrides).WithFallback(config);
    }

    private static async Task JoinSelfAsync(ActorSystem system)
    {
        var cluster = Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        cluster.Join(cluster.SelfAddress);
        if (await Task.WhenAny(up.Task, Task.Delay(TimeSpan.FromSeconds(30))) != up.Task)
            throw new TrainingFailedException($"the node at {cluster.SelfAddress} did not come up within 30 s");
    }

    private static void WriteAddress(ActorSystem system, string outputDirectory)
    {
        var address = Cluster.Get(system).SelfAddress.ToString();
        Model.Checkpoints.AtomicFile.WriteText(Path.Combine(outputDirectory, "cluster.json"),
            JsonSerializer.Serialize(new { address, supervisor = address + SupervisorProxyPath }));
    }

    private static RunReport Report(RunSettings settings, PhaseLog log, DateTime started)
    {
        var phases = log.Completed.Select(c => JsonSerializer.Deserialize<PhaseReport>(c.ReportJson)!).ToList();
        var order = settings.Distributions.Count > 0 ? settings.Distributions
            : log.Completed.FirstOrDefault() is { } first ? OrderFromRow(settings, first) : Array.Empty<string>();
        long tokens = phases.Sum(p => p.Tokens);
        double seconds = phases.Sum(p => p.Seconds);
        int experts = phases.LastOrDefault()?.ExpertsPerLayer ?? settings.Model.InitialExperts;
        return new RunReport(settings.Train.Strategy.ToString().ToLowerInvariant(), order, phases,
            log.Completed.Select(c => c.BitsPerByte).ToArray(), seconds > 0 ? tokens / seconds : 0, settings.Device,
            settings.Tokenizer, ParameterCount(settings.Model, experts), started, (DateTime.UtcNow - started).TotalSeconds);
    }

    private static IReadOnlyList<string> OrderFromRow(RunSettings settings, PhaseCompleted first)
    {
        var (distributions, _) = CorpusManifestLoader.Load(settings.CorpusManifest);
        return distributions.Select(d => d.Name).Take(first.BitsPerByte.Length).ToList();
    }

    /// <summary>Parameters of the whole model with <paramref name="expertsPerLayer"/> experts in every MoE layer.</summary>
    public static long ParameterCount(ModelConfig c, int expertsPerLayer)
    {
        long d = c.DModel, f = c.DFf;
        long ffn = 2 * d * f + f + d;
        long attention = 3 * d * d + 3 * d + d * d + d + 4 * d;      // qkv, projection, two layer norms
        long moeLayers = c.MoeLayerCount, denseLayers = c.NumLayers - moeLayers;
        return c.VocabSize * d + c.ContextLength * d + c.NumLayers * attention + denseLayers * ffn
            + moeLayers * (expertsPerLayer * (ffn + d)) + 2 * d + d * c.VocabSize;
    }
}

/// <summary>Completes the run's task when the supervisor reports its end; passes progress to the caller.</summary>
internal sealed class RunListener : ReceiveActor
{
    public RunListener(TaskCompletionSource<PhaseLog> finished, Action<TrainingProgress> onProgress)
    {
        Receive<TrainingProgress>(p => onProgress(p));
        Receive<RunFinished>(f =>
        {
            // A supervisor that stopped on a journal failure cannot answer; then its RunFinished is all there is.
            Sender.Ask<PhaseLog>(new GetPhaseLog(), TimeSpan.FromSeconds(10))
                .ContinueWith(t => finished.TrySetResult(t.IsCompletedSuccessfully ? t.Result : PhaseLog.Empty with { Finished = f }));
        });
        ReceiveAny(_ => { });
    }

    public static Props Props(TaskCompletionSource<PhaseLog> finished, Action<TrainingProgress> onProgress) =>
        Akka.Actor.Props.Create(() => new RunListener(finished, onProgress));
}
