using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Training;

namespace LifelongMoE.Actors.Supervision;

/// <summary>Asks the supervisor for its phase log.</summary>
public sealed record GetPhaseLog;

/// <summary>
/// The run's persistent owner (a cluster singleton): it journals the phase log (phases started and completed with
/// their evaluation rows, checkpoints committed, failures recovered from, the end of the run) and rebuilds it after a
/// restart; it starts the training loop, which resumes after the last completed phase from that phase's checkpoint;
/// it relays operator control messages to the loop, and phase events to a listener.
/// </summary>
public sealed class PhaseSupervisor : ReceivePersistentActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Func<PhaseLog, Props> loopProps;
    private readonly IActorRef? listener;
    private PhaseLog phases = PhaseLog.Empty;
    private IActorRef loop = ActorRefs.Nobody;
    private string? loopFailure;

    public PhaseSupervisor(Func<PhaseLog, Props> loopProps, IActorRef? listener, string persistenceId)
    {
        this.loopProps = loopProps;
        this.listener = listener;
        PersistenceId = persistenceId;

        Recover<PhaseStarted>(e => phases = phases.Apply(e));
        Recover<PhaseCompleted>(e => phases = phases.Apply(e));
        Recover<CheckpointCommitted>(e => phases = phases.Apply(e));
        Recover<RunRecovered>(e => phases = phases.Apply(e));
        Recover<RunFinished>(e => phases = phases.Apply(e));
        Recover<RecoveryCompleted>(_ => OnRecovered());

        Command<PhaseStarted>(e => Record(e));
        Command<PhaseCompleted>(e => Record(e));
        Command<CheckpointCommitted>(e => Record(e));
        Command<RunRecovered>(e => Record(e));
        Command<RunFinished>(e => Record(e));
        Command<GetPhaseLog>(_ => Sender.Tell(phases));
        Command<GetStatus>(m => Relay(m));
        Command<Pause>(m => Relay(m));
        Command<Resume>(m => Relay(m));
        Command<Checkpoint>(m => Relay(m));
        Command<ShiftNow>(m => Relay(m));
        Command<Stop>(m => Relay(m));
        Command<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(loop) || phases.Finished is not null) return;
            var error = loopFailure is null ? "the training loop stopped unexpectedly"
                : $"the training loop failed: {loopFailure}";
            log.Error(error);
            Record(new RunFinished(false, error));
        });
    }

    /// <summary>
    /// A failing loop is stopped, never restarted: a restarted loop would start over from the phase log it was
    /// created with and train again the phases completed since. The run ends, reported; a new supervisor resumes it.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        loopFailure = e.Message;
        return Directive.Stop;
    });

    public override string PersistenceId { get; }

    public static Props Props(RunSettings settings, IActorRef experts, IActorRef? listener) =>
        Akka.Actor.Props.Create(() => new PhaseSupervisor(
            resume => TrainingLoop.Props(settings, resume, experts), listener, "phase-supervisor"));

    private void OnRecovered()
    {
        if (phases.Started.Count > 0)
            log.Info("phase log recovered: {0} phase(s) completed, last checkpoint {1}", phases.CompletedPhases,
                phases.LastPhaseEndCheckpoint?.Path ?? "none");
        if (phases.Finished is { Completed: true })
        {
            listener?.Tell(phases.Finished);
            return;
        }
        if (phases.Finished is not null) phases = phases with { Finished = null };   // a stopped run may go on
        loop = Context.ActorOf(loopProps(phases), "training-loop");
        Context.Watch(loop);
    }

    // Without its journal the supervisor cannot resume anything, and Akka stops it on these failures; the listener
    // (the run's caller) hears why instead of waiting forever for a RunFinished that would never come.
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        ReportJournalFailure($"could not recover the phase log: {reason.Message}");
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        ReportJournalFailure($"could not write {@event.GetType().Name}: {cause.Message}");
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>A rejected event is missing from the log for good, so a resume could repeat or skip work: stop.</summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        ReportJournalFailure($"rejected {@event.GetType().Name}: {cause.Message}");
        base.OnPersistRejected(cause, @event, sequenceNr);
        Context.Stop(Self);
    }

    private void ReportJournalFailure(string problem)
    {
        var error = $"the phase journal failed: {problem}";
        log.Error(error);
        listener?.Tell(new RunFinished(false, error));
    }

    private void Record(object e) => Persist(e, persisted =>
    {
        phases = phases.Apply(persisted);
        listener?.Tell(persisted);
        if (persisted is RunFinished && !loop.IsNobody())
        {
            Context.Unwatch(loop);
            Context.Stop(loop);
        }
    });

    private void Relay(object message)
    {
        if (loop.IsNobody() || phases.Finished is not null)
        {
            Sender.Tell(new StatusReport("finished", phases.CompletedPhases, phases.CompletedPhases, "", 0, 0, 0,
                double.NaN, 0, phases.Started.LastOrDefault()?.ExpertsPerLayer ?? 0,
                phases.Checkpoints.LastOrDefault()?.Path));
            return;
        }
        loop.Forward(message);
    }
}
