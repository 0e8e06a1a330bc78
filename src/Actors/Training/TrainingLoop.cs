using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using LifelongMoE.Actors.Experts;
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
/// itself, queued behind whatever arrived meanwhile.
/// <para>
/// Every phase has a checkpoint from its first step on: one is written right after the phase's growth, and more
/// every <see cref="RunSettings.CheckpointEvery"/> steps, with optimizer state and data cursor. When an expert request
/// fails or times out (its node died or left, and its entity restarted empty elsewhere), the loop rolls the whole
/// model, the cursor and the step counters back to the phase's last checkpoint and trains on; the repeated steps give
/// the same losses. A failure before that first checkpoint (during the growth) restarts the phase from the previous
/// phase's end. After <see cref="RunSettings.MaxRecoveriesPerPhase"/> recoveries in a phase, or on any other error
/// (a bad corpus, a damaged checkpoint), the run ends with the error reported, never a hang.
/// </para>
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

    // Where a failure rolls back to: the current phase's last checkpoint (absolute path), null until its first one
    // is written; before that, the previous phase's end (relative to the output directory; null: the run's start).
    private string? phaseCheckpoint;
    private long phaseCheckpointStep;
    private (string Path, long Step)? previousPhaseEnd;
    private int recoveries;
    private int announcedPhase = -1;
    private int gatingGeneration;

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
            await RecoverOrFinishAsync(Unwrap(e));
        }
    }

    private static Exception Unwrap(Exception e) => e is AggregateException a ? a.GetBaseException() : e;

    /// <summary>Failures on the experts' side, which a rollback to a checkpoint repairs; others end the run.</summary>
    private static bool Recoverable(Exception e) =>
        e is ExpertTimeoutException or ExpertRequestException or ExpertFailedException or AskTimeoutException;

    /// <summary>
    /// Rolls back, or tries again where the rollback itself failed (a restore sent while the dead node's shards had
    /// no new home yet), as long as the phase's recoveries last; the journal and the log name the original failure.
    /// </summary>
    private async Task RecoverOrFinishAsync(Exception failure)
    {
        long failedAt = globalStep;
        var cause = failure;
        while (Recoverable(cause) && recoveries < settings.MaxRecoveriesPerPhase)
        {
            recoveries++;
            try
            {
                var checkpoint = await RollBackAsync(recoveries);
                log.Warning("{0}", $"phase {phase + 1} ({Distribution}), step {failedAt}: {failure.Message}; " +
                    $"rolled back to {checkpoint ?? "the run's start"} (step {globalStep}), recovery {recoveries} " +
                    $"of {settings.MaxRecoveriesPerPhase} in this phase");
                Context.Parent.Tell(
                    new RunRecovered(phase, failedAt, globalStep, checkpoint, recoveries, failure.Message));
                Self.Tell(new NextStep());
                return;
            }
            catch (Exception e)
            {
                cause = Unwrap(e);
                log.Warning("phase {0}, step {1}: recovery {2} failed: {3}", phase + 1, failedAt, recoveries,
                    cause.Message);
            }
        }

        var error = Recoverable(cause) && recoveries > 0
            ? $"gave up on phase {phase + 1} ({Distribution}) after {recoveries} rollback(s), the most a phase " +
              $"allows (lifelong-moe.recovery.max-per-phase): {cause.Message}"
            : cause.Message;
        log.Error("training stopped at step {0} (phase {1}): {2}", globalStep, phase + 1, error);
        Finish(completed: false, error);
    }

    /// <summary>Waits for the cluster to settle (<see cref="AwaitSettledMembershipAsync"/>), and rolls back.</summary>
    /// <returns>the checkpoint rolled back to, relative to the output directory; null for the run's start</returns>
    private async Task<string?> RollBackAsync(int attempt)
    {
        await AwaitSettledMembershipAsync(TimeSpan.FromMilliseconds(500 * attempt));
        if (phaseCheckpoint is not null)
        {
            await RestoreCheckpointAsync(phaseCheckpoint);
            return Path.GetRelativePath(settings.OutputDirectory, phaseCheckpoint).Replace('\\', '/');
        }
        await RestartPhaseAsync();
        return previousPhaseEnd?.Path;
    }

    /// <summary>
    /// Waits <paramref name="backoff"/>; in a cluster, at least as long as the failure detector may take to notice a
    /// node that died just now (its acceptable heartbeat pause and one heartbeat), and then (at most a step's timeout)
    /// until no member is unreachable. Until the split-brain resolver has downed the dead node and it is removed,
    /// that node's shards get no new home, and a restore sent to its experts would only time out.
    /// </summary>
    private async Task AwaitSettledMembershipAsync(TimeSpan backoff)
    {
        if (((ExtendedActorSystem)Context.System).Provider is not IClusterActorRefProvider)
        {
            await Task.Delay(backoff);
            return;
        }
        var cluster = Cluster.Get(Context.System);
        var detection = cluster.Settings.HeartbeatInterval +
            cluster.Settings.FailureDetectorConfig.GetTimeSpan("acceptable-heartbeat-pause", TimeSpan.FromSeconds(3));
        await Task.Delay(backoff > detection ? backoff : detection);
        var clock = Stopwatch.StartNew();
        while (cluster.State.Unreachable.Count > 0 && clock.Elapsed < settings.StepTimeout)
            await Task.Delay(200);
    }

    /// <summary>
    /// Rolls back to a checkpoint of the current phase: trunk, trunk optimizer and schedule position, every expert's
    /// weights and optimizer state (entities that lost theirs, or were started empty on another node, included), the
    /// frozen set checked, the data cursor and the step counters.
    /// </summary>
    private async Task RestoreCheckpointAsync(string checkpoint)
    {
        CheckpointDirectory.Verify(checkpoint);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, StateFile)))!;
        if (state["phase"]!.GetValue<int>() != phase)
            throw new CheckpointException(checkpoint, $"is of phase {state["phase"]}, not the current one ({phase})");
        var frozen = state["frozen"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        await gating.Ask<ModelRestored>(new RestoreModel(checkpoint, state["schedule_step"]!.GetValue<int>(), frozen),
            settings.StepTimeout);

        stream?.Dispose();
        stream = data.Stream(Distribution, phase, state["cursor"].Deserialize<StreamCursor>());
        globalStep = state["global_step"]!.GetValue<long>();
        stepInPhase = state["step_in_phase"]!.GetValue<int>();
        phaseTokens = state["phase_tokens"]!.GetValue<long>();
    }

    /// <summary>
    /// A failure before the phase's first checkpoint (during its growth, or while writing that checkpoint): a new
    /// gating actor with the model of the previous phase's end (or the seeded initial model) gives every expert its
    /// weights back, and the phase begins again, growing exactly as before (the growth draws from the phase's seed).
    /// </summary>
    private async Task RestartPhaseAsync()
    {
        // The old gating actor may still be in a growth whose reply timed out here; its requests to the experts must
        // not land among the new one's. It stops after its current request and disposes its engine; its model is left
        // to the garbage collector.
        try
        {
            await gating.GracefulStop(settings.StepTimeout);
        }
        catch (Exception e)
        {
            log.Warning("the previous gating actor did not stop within {0} ({1}); starting a new one anyway",
                settings.StepTimeout, e.Message);
        }
        gating = Context.ActorOf(GatingProps(BuildModel()), $"gating-{++gatingGeneration}");
        await BeginPhaseAsync();
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

        if (resume.LastPhaseEndCheckpoint is { } end && resume.CompletedPhases > 0)
        {
            log.Warning("resuming after phase {0} from checkpoint {1}", resume.CompletedPhases, end.Path);
            previousPhaseEnd = (end.Path, end.Step);
            reports.AddRange(resume.Completed.Select(c => JsonSerializer.Deserialize<PhaseReport>(c.ReportJson)!));
        }
        gating = Context.ActorOf(GatingProps(BuildModel()), "gating");
        await BeginPhaseAsync();
        Self.Tell(new NextStep());
    }

    /// <summary>The model as the previous phase ended (from its checkpoint), or the seeded initial model.</summary>
    private MoeTransformer BuildModel()
    {
        var device = new Device(settings.Device);
        MoeTransformer model;
        if (previousPhaseEnd is { } end)
        {
            model = ModelCheckpoint.Load(Path.Combine(settings.OutputDirectory, end.Path));
            globalStep = end.Step;
        }
        else
        {
            manual_seed(settings.Seed);
            model = new MoeTransformer(settings.Model);
            globalStep = 0;
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
        phaseCheckpoint = null;
        var begun = await gating.Ask<PhaseBegun>(new BeginPhase(phase, settings.StepsPerPhase, Shift: phase > 0),
            settings.StepTimeout);
        expertsPerLayer = begun.ExpertsPerLayer;
        stream?.Dispose();
        stream = data.Stream(Distribution, phase);
        stepInPhase = 0;
        phaseTokens = 0;
        phaseSeconds = 0;
        shiftRequested = false;
        if (announcedPhase < phase)
        {
            // A phase restarted after a failure in its growth is announced (and journaled) once.
            announcedPhase = phase;
            Context.Parent.Tell(new PhaseStarted(phase, Distribution, expertsPerLayer, begun.AddedExperts));
            log.Info("phase {0}/{1} begins: {2}, {3} experts per MoE layer", phase + 1, data.Order.Count,
                Distribution, expertsPerLayer);
        }

        // From here on a failure rolls back to this checkpoint, or a later one, instead of growing again.
        await CheckpointAsync(phaseEnd: false);
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

        bool phaseEnds = stepInPhase >= settings.StepsPerPhase || shiftRequested;
        bool due = settings.CheckpointEvery > 0 && stepInPhase % settings.CheckpointEvery == 0 && !phaseEnds;
        if (checkpointRequested || due)
        {
            checkpointRequested = false;
            await CheckpointUnlessWrittenAsync();
        }
        if (phaseEnds)
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
        var saved = await CheckpointAsync(phaseEnd: true);
        var checkpointRel = Path.GetRelativePath(settings.OutputDirectory, saved.Path);
        previousPhaseEnd = (checkpointRel.Replace('\\', '/'), globalStep);

        // Published once the phase's end is safe: a failure before it rolls back and evaluates again.
        Context.System.EventStream.Publish(new PhaseEvaluated(phase + 1, Distribution, data.Order, row));
        log.Info("phase {0} ({1}) held-out bits/byte: {2}", phase + 1, Distribution,
            string.Join(", ", data.Order.Select((d, i) => $"{d} {row[i]:F3}")));
        var expertFiles = saved.Files.Where(kv => kv.Key != "trunk")
            .ToDictionary(kv => kv.Key, kv => Path.Combine(checkpointRel, kv.Value).Replace('\\', '/'));
        var report = new PhaseReport($"phase-{phase + 1}", Distribution, stepInPhase, phaseTokens, phaseSeconds,
            expertsPerLayer, expertFiles, checkpointRel.Replace('\\', '/'), lastLoss);
        reports.Add(report);
        Context.Parent.Tell(new PhaseCompleted(phase, Distribution, row, JsonSerializer.Serialize(report)));

        phase++;
        recoveries = 0;
        if (phase >= data.Order.Count)
        {
            Finish(completed: true, null);
            return;
        }
        await BeginPhaseAsync();
    }

    private const string StateFile = "state.json";

    // Step, then phase: at the step where one phase ends and the next begins, the newer sorts last.
    private string CheckpointName(bool phaseEnd) =>
        $"{globalStep:D8}-p{phase + 1:D2}-{Distribution}" + (phaseEnd ? "-end" : "");

    /// <summary>
    /// A mid-phase checkpoint, unless this step has one already: requests that meet between two steps (two
    /// checkpoints while paused, a checkpoint and then a stop), a stop right at the phase's start or right after a
    /// rollback, would otherwise write the same state twice.
    /// </summary>
    private async Task CheckpointUnlessWrittenAsync()
    {
        if (phaseCheckpoint is not null && phaseCheckpointStep == globalStep) return;
        await CheckpointAsync(phaseEnd: false);
    }

    /// <summary>
    /// The checkpoint's name, with a suffix where a directory of that name exists: a run resumed from an earlier
    /// phase end trains that phase's steps again, and a checkpoint is never overwritten.
    /// </summary>
    private static string FreeName(string root, string name)
    {
        var free = name;
        for (int n = 2; Directory.Exists(Path.Combine(root, free)); n++) free = $"{name}-{n}";
        return free;
    }

    private async Task<(string Path, IReadOnlyDictionary<string, string> Files)> CheckpointAsync(bool phaseEnd)
    {
        var root = Path.Combine(settings.OutputDirectory, "checkpoints");
        var writer = new CheckpointWriter(root, FreeName(root, CheckpointName(phaseEnd)));
        try
        {
            var saved = await gating.Ask<ModelSaved>(new SaveModel(writer.StagingPath, WithOptimizer: !phaseEnd),
                settings.StepTimeout);
            // schedule_step: the learning-rate schedule's position (steps the trunk optimizer took in the phase).
            writer.WriteJson(StateFile, new JsonObject
            {
                ["phase"] = phase, ["distribution"] = Distribution, ["step_in_phase"] = stepInPhase,
                ["global_step"] = globalStep, ["phase_end"] = phaseEnd, ["schedule_step"] = saved.PhaseStep,
                ["phase_tokens"] = phaseTokens,
                ["distributions"] = new JsonArray(data.Order.Select(d => (JsonNode?)d).ToArray()),
                ["frozen"] = new JsonArray((saved.Frozen ?? []).Select(id => (JsonNode?)id).ToArray()),
                ["cursor"] = stream is null ? null : JsonSerializer.SerializeToNode(stream.Cursor),
            });
            var path = writer.Commit(new Dictionary<string, string> { ["step"] = globalStep.ToString() });
            lastCheckpoint = path;
            if (!phaseEnd) (phaseCheckpoint, phaseCheckpointStep) = (path, globalStep);
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
