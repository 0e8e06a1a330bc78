using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using LifelongMoE.Actors.Gating;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Data;
using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Training;

/// <summary>
/// Drives a run: one phase per distribution; in each, pulls batches, has the gating actor run each step, and at
/// the end evaluates every distribution, writes a complete checkpoint and reports to its parent (the phase
/// supervisor), which journals it. Control messages are handled between steps: every step is one message to
/// itself, queued behind whatever arrived meanwhile. Errors (a bad corpus, an expert timeout) end the run with
/// the error reported, never a hang.
/// </summary>
public sealed class TrainingLoop : ReceiveActor
{
    private sealed record Start;
    private sealed record NextStep;

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly RunSettings settings;
    private readonly PhaseLog resume;
    private readonly IActorRef experts;
    private readonly List<PhaseReport> reports = new();
    private TrainingData data = null!;
    private IActorRef gating = ActorRefs.Nobody;
    private TokenStream? stream;
    private int phase;
    private int stepInPhase;
    private long globalStep;
    private int expertsPerLayer;
    private long phaseTokens;
    private double phaseSeconds;
    private double lastLoss = double.NaN;
    private double tokensPerSecond;
    private string? lastCheckpoint;
    private bool paused, stopRequested, checkpointRequested, shiftRequested, finished;

    public TrainingLoop(RunSettings settings, PhaseLog resume, IActorRef experts)
    {
        this.settings = settings;
        this.resume = resume;
        this.experts = experts;

        ReceiveAsync<Start>(_ => Guarded(StartAsync));
        ReceiveAsync<NextStep>(_ => Guarded(StepAsync));
        Receive<Pause>(_ =>
        {
            paused = true;
            Sender.Tell(new ControlAck($"paused after step {globalStep}"));
        });
        Receive<Resume>(_ =>
        {
            bool was = paused;
            paused = false;
            if (was && !finished) Self.Tell(new NextStep());
            Sender.Tell(new ControlAck(was ? "resumed" : "was not paused"));
        });
        Receive<Checkpoint>(_ =>
        {
            checkpointRequested = true;
            if (paused) Self.Tell(new NextStep());
            Sender.Tell(new ControlAck("checkpoint after the current step"));
        });
        Receive<ShiftNow>(_ =>
        {
            shiftRequested = true;
            Sender.Tell(new ControlAck("phase ends after the current step"));
        });
        Receive<Stop>(_ =>
        {
            stopRequested = true;
            if (paused) Self.Tell(new NextStep());
            Sender.Tell(new ControlAck("stopping after the current step"));
        });
        Receive<GetStatus>(_ => Sender.Tell(Status()));
    }

    public static Props Props(RunSettings settings, PhaseLog resume, IActorRef experts) =>
        Akka.Actor.Props.Create(() => new TrainingLoop(settings, resume, experts));

    protected override void PreStart() => Self.Tell(new Start());

    private string Distribution => data.Order[Math.Min(phase, data.Order.Count - 1)];

    private async Task Guarded(Func<Task> work)
    {
        if (finished) return;
        try
        {
            await work();
        }
        catch (Exception e)
        {
            var cause = e is AggregateException a ? a.GetBaseException() : e;
            log.Error("training stopped at step {0} (phase {1}): {2}", globalStep, phase + 1, cause.Message);
            Finish(completed: false, cause.Message);
        }
    }

    private async Task StartAsync()
    {
        data = TrainingData.Load(settings);               // validates every corpus before the first step
        phase = resume.CompletedPhases;
        if (phase >= data.Order.Count)
        {
            Finish(completed: true, null);
            return;
        }

        var model = BuildModel();
        gating = Context.ActorOf(GatingProps(model), "gating");
        await BeginPhaseAsync();
        Self.Tell(new NextStep());
    }

    private MoeTransformer BuildModel()
    {
        var device = new Device(settings.Device);
        var checkpoint = resume.LastPhaseEndCheckpoint;
        MoeTransformer model;
        if (checkpoint is not null && resume.CompletedPhases > 0)
        {
            log.Warning("resuming after phase {0} from checkpoint {1}", resume.CompletedPhases, checkpoint.Path);
            model = ModelCheckpoint.Load(Path.Combine(settings.OutputDirectory, checkpoint.Path));
            globalStep = checkpoint.Step;
            reports.AddRange(resume.Completed.Select(c => JsonSerializer.Deserialize<PhaseReport>(c.ReportJson)!));
        }
        else
        {
            manual_seed(settings.Seed);
            model = new MoeTransformer(settings.Model);
        }
        model.to(device);
        return model;
    }

    private Props GatingProps(MoeTransformer model)
    {
        var device = new Device(settings.Device);
        var channel = new AskExpertChannel(experts, settings.ExpertTimeout, device,
            AdamWSettings.From(settings.Train.AdamOptions));
        var props = GatingActor.Props(model, settings.Train, settings.Growth, channel, device, settings.Seed);
        return Context.System.Dispatchers.HasDispatcher("gating-dispatcher") ? props.WithDispatcher("gating-dispatcher") : props;
    }

    private async Task BeginPhaseAsync()
    {
        var begun = await gating.Ask<PhaseBegun>(new BeginPhase(phase, settings.StepsPerPhase, Shift: phase > 0),
            settings.StepTimeout);
        expertsPerLayer = begun.ExpertsPerLayer;
        stream?.Dispose();
        stream = data.Stream(Distribution, phase);
        stepInPhase = 0;
        phaseTokens = 0;
        phaseSeconds = 0;
        shiftRequested = false;
        Context.Parent.Tell(new PhaseStarted(phase, Distribution, expertsPerLayer, begun.AddedExperts));
        log.Info("phase {0}/{1} begins: {2}, {3} experts per MoE layer", phase + 1, data.Order.Count, Distribution,
            expertsPerLayer);
    }

    private async Task StepAsync()
    {
        if (stopRequested)
        {
            await CheckpointUnlessWrittenAsync();
            Finish(completed: false, "stopped by request");
            return;
        }
        if (paused)
        {
            // A paused loop still answers a checkpoint request; then it waits for Resume.
            if (checkpointRequested)
            {
                checkpointRequested = false;
                await CheckpointUnlessWrittenAsync();
            }
            return;
        }

        var batch = stream!.Next();
        var clock = Stopwatch.StartNew();
        var done = await gating.Ask<StepDone>(new RunStep(globalStep, batch.Tokens, batch.BatchSize), settings.StepTimeout);
        double seconds = clock.Elapsed.TotalSeconds;

        globalStep++;
        stepInPhase++;
        phaseTokens += done.Result.Tokens;
        phaseSeconds += seconds;
        lastLoss = done.Result.Loss;
        tokensPerSecond = phaseTokens / Math.Max(phaseSeconds, 1e-9);
        PublishProgress(done);

        if (checkpointRequested)
        {
            checkpointRequested = false;
            await CheckpointUnlessWrittenAsync();
        }
        if (stepInPhase >= settings.StepsPerPhase || shiftRequested)
        {
            await EndPhaseAsync();
            if (finished) return;
        }
        Self.Tell(new NextStep());
    }

    private void PublishProgress(StepDone done)
    {
        int remaining = (data.Order.Count - phase - 1) * settings.StepsPerPhase + settings.StepsPerPhase - stepInPhase;
        var eta = TimeSpan.FromSeconds(remaining * phaseSeconds / Math.Max(stepInPhase, 1));
        Context.System.EventStream.Publish(new TrainingProgress(phase + 1, data.Order.Count, Distribution, stepInPhase,
            settings.StepsPerPhase, done.Result.Loss, done.Result.CrossEntropy, done.Result.Distillation, tokensPerSecond,
            eta, expertsPerLayer, done.Result.Dropped));
    }

    private async Task EndPhaseAsync()
    {
        var row = new double[data.Order.Count];
        for (int d = 0; d < data.Order.Count; d++)
        {
            var set = data.HeldOut[d];
            var eval = await gating.Ask<Evaluated>(
                new EvaluateSequences(data.Order[d], set.Sequences, settings.EvalBatchSize), settings.StepTimeout);
            row[d] = Metrics.BitsPerByte(eval.MeanLossNats, set.Tokens, set.Bytes);
        }
        Context.System.EventStream.Publish(new PhaseEvaluated(phase + 1, Distribution, data.Order, row));
        log.Info("phase {0} ({1}) held-out bits/byte: {2}", phase + 1, Distribution,
            string.Join(", ", data.Order.Select((d, i) => $"{d} {row[i]:F3}")));

        var saved = await CheckpointAsync(phaseEnd: true);
        var checkpointRel = Path.GetRelativePath(settings.OutputDirectory, saved.Path);
        var expertFiles = saved.Files.Where(kv => kv.Key != "trunk")
            .ToDictionary(kv => kv.Key, kv => Path.Combine(checkpointRel, kv.Value).Replace('\\', '/'));
        var report = new PhaseReport($"phase-{phase + 1}", Distribution, stepInPhase, phaseTokens, phaseSeconds,
            expertsPerLayer, expertFiles, checkpointRel.Replace('\\', '/'), lastLoss);
        reports.Add(report);
        Context.Parent.Tell(new PhaseCompleted(phase, Distribution, row, JsonSerializer.Serialize(report)));

        phase++;
        if (phase >= data.Order.Count)
        {
            Finish(completed: true, null);
            return;
        }
        await BeginPhaseAsync();
    }

    private string CheckpointName(bool phaseEnd) => $"{globalStep:D8}-{Distribution}" + (phaseEnd ? "-end" : "");

    /// <summary>
    /// A mid-phase checkpoint, unless this step has one already: requests that meet between two steps (two
    /// checkpoints while paused, a checkpoint and then a stop) would otherwise collide on the name, and a checkpoint
    /// is never overwritten.
    /// </summary>
    private async Task CheckpointUnlessWrittenAsync()
    {
        if (lastCheckpoint is not null && Path.GetFileName(lastCheckpoint) == CheckpointName(phaseEnd: false)) return;
        await CheckpointAsync(phaseEnd: false);
    }

    private async Task<(string Path, IReadOnlyDictionary<string, string> Files)> CheckpointAsync(bool phaseEnd)
    {
        var root = Path.Combine(settings.OutputDirectory, "checkpoints");
        var writer = new CheckpointWriter(root, CheckpointName(phaseEnd));
        try
        {
            var saved = await gating.Ask<ModelSaved>(new SaveModel(writer.StagingPath, WithOptimizer: !phaseEnd),
                settings.StepTimeout);
            writer.WriteJson("state.json", new System.Text.Json.Nodes.JsonObject
            {
                ["phase"] = phase, ["distribution"] = Distribution, ["step_in_phase"] = stepInPhase,
                ["global_step"] = globalStep, ["phase_end"] = phaseEnd,
                ["distributions"] = new System.Text.Json.Nodes.JsonArray(data.Order.Select(d => (System.Text.Json.Nodes.JsonNode?)d).ToArray()),
                ["cursor"] = stream is null ? null : JsonSerializer.SerializeToNode(stream.Cursor),
            });
            var path = writer.Commit(new Dictionary<string, string> { ["step"] = globalStep.ToString() });
            lastCheckpoint = path;
            Context.Parent.Tell(new CheckpointCommitted(phase, globalStep,
                Path.GetRelativePath(settings.OutputDirectory, path), phaseEnd));
            log.Info("checkpoint {0} written", path);
            return (path, saved.Files);
        }
        catch
        {
            writer.Abandon();
            throw;
        }
    }

    private StatusReport Status() => new(
        finished ? "finished" : paused ? "paused" : "training", phase + 1, data?.Order.Count ?? 0,
        data is null ? "" : Distribution, stepInPhase, settings.StepsPerPhase, globalStep, lastLoss, tokensPerSecond,
        expertsPerLayer, lastCheckpoint);

    private void Finish(bool completed, string? error)
    {
        if (finished) return;
        finished = true;
        stream?.Dispose();
        Context.Parent.Tell(new RunFinished(completed, error));
    }

    protected override void PostStop()
    {
        stream?.Dispose();
        base.PostStop();
    }
}
