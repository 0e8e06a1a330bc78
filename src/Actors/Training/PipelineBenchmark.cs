using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Gating;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Model.Data;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Training;

/// <summary>Timing of one way of running training steps: per-step seconds after warm-up.</summary>
public sealed record BenchmarkResult(string Name, int Steps, double MedianStepSeconds, double P90StepSeconds,
    double TokensPerSecond)
{
    public static BenchmarkResult From(string name, IReadOnlyList<double> seconds, long tokensPerStep)
    {
        var sorted = seconds.Order().ToArray();
        double median = sorted.Length % 2 == 1
            ? sorted[sorted.Length / 2]
            : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        double p90 = sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(0.9 * sorted.Length) - 1)];
        return new BenchmarkResult(name, sorted.Length, median, p90, tokensPerStep / median);
    }
}

/// <summary>
/// Times the same training steps (same seed, same batches) in the in-process trainer and through the actor
/// pipeline (gating actor, expert entities in the sharding region of a self-joined cluster), before and after a
/// growth step, in one process and one run, so the ratios compare like with like.
/// </summary>
public static class PipelineBenchmark
{
    public static async Task<IReadOnlyList<BenchmarkResult>> RunAsync(Config config, RunSettings settings, int steps,
        int warmup, Action<string>? progress = null)
    {
        if (settings.Threads > 0) set_num_threads(settings.Threads);
        var data = TrainingData.Load(settings);
        using var stream = data.Stream(data.Order[0], 0);
        var batches = Enumerable.Range(0, 2 * (steps + warmup)).Select(_ => stream.Next()).ToList();
        long tokensPerStep = (long)settings.BatchSize * settings.SequenceLength;
        var results = new List<BenchmarkResult>();

        progress?.Invoke("in-process trainer");
        var (before, after) = InProcess(settings, batches, steps, warmup);
        results.Add(BenchmarkResult.From("in-process", before, tokensPerStep));
        results.Add(BenchmarkResult.From("in-process, after growth", after, tokensPerStep));

        progress?.Invoke("actor pipeline");
        var (actorBefore, actorAfter) = await ActorsAsync(config, settings, batches, steps, warmup);
        results.Add(BenchmarkResult.From("actors", actorBefore, tokensPerStep));
        results.Add(BenchmarkResult.From("actors, after growth", actorAfter, tokensPerStep));
        return results;
    }

    private static (List<double>, List<double>) InProcess(RunSettings s, List<TokenBatch> batches, int steps, int warmup)
    {
        manual_seed(s.Seed);
        using var model = new MoeTransformer(s.Model);
        model.to(new Device(s.Device));
        using var trainer = new InProcessTrainer(model, s.Train, new Device(s.Device));
        var generator = new Generator((ulong)s.Seed);
        var times = new List<List<double>>();
        for (int phase = 0; phase < 2; phase++)
        {
            trainer.BeginPhase(steps + warmup, shift: phase > 0, s.Growth, generator);
            times.Add(Time(batches.Skip(phase * (steps + warmup)).Take(steps + warmup), warmup,
                b => trainer.Step(b.Tokens, b.BatchSize)));
        }
        return (times[0], times[1]);
    }

    private static async Task<(List<double>, List<double>)> ActorsAsync(Config config, RunSettings s,
        List<TokenBatch> batches, int steps, int warmup)
    {
        var system = ActorSystem.Create(TrainingRun.SystemName, config);
        try
        {
            var cluster = Cluster.Get(system);
            var up = new TaskCompletionSource();
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            cluster.Join(cluster.SelfAddress);
            await up.Task.WaitAsync(TimeSpan.FromSeconds(30));

            var region = ExpertSharding.Start(system);
            var device = new Device(s.Device);
            manual_seed(s.Seed);
            var model = new MoeTransformer(s.Model);
            model.to(device);
            var channel = new AskExpertChannel(region, s.ExpertTimeout, device, AdamWSettings.From(s.Train.AdamOptions));
            var props = GatingActor.Props(model, s.Train, s.Growth, channel, device, s.Seed);
            if (system.Dispatchers.HasDispatcher("gating-dispatcher")) props = props.WithDispatcher("gating-dispatcher");
            var gating = system.ActorOf(props, "gating");

            var times = new List<List<double>>();
            long step = 0;
            for (int phase = 0; phase < 2; phase++)
            {
                await gating.Ask<PhaseBegun>(new BeginPhase(phase, steps + warmup, phase > 0), s.StepTimeout);
                times.Add(Time(batches.Skip(phase * (steps + warmup)).Take(steps + warmup), warmup,
                    b => gating.Ask<StepDone>(new RunStep(step++, b.Tokens, b.BatchSize), s.StepTimeout).Wait()));
            }
            return (times[0], times[1]);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
        }
    }

    private static List<double> Time(IEnumerable<TokenBatch> batches, int warmup, Action<TokenBatch> step)
    {
        var seconds = new List<double>();
        int i = 0;
        foreach (var b in batches)
        {
            var clock = Stopwatch.StartNew();
            step(b);
            if (i++ >= warmup) seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return seconds;
    }
}
