using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Gating;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using LifelongMoE.Actors.Training;
using LifelongMoE.Model.Checkpoints;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// The phase supervisor over the SQLite journal of base.hocon: a whole tiny run (one phase per distribution, the
/// model growing at every shift), its phase log recovered by a new supervisor and by a new actor system on the same
/// database, and a stopped run resumed after its last completed phase without training any distribution twice.
/// </summary>
public sealed class PhaseSupervisorSpec : TestKit
{
    private static readonly string[] Distributions = { "fiction", "scripture", "legal" };
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    private readonly string directory;
    private readonly ITestOutputHelper output;

    public PhaseSupervisorSpec(ITestOutputHelper output) : this(TinyRun.TempDirectory("supervisor"), output)
    {
    }

    private PhaseSupervisorSpec(string directory, ITestOutputHelper output)
        : base(SystemConfig(directory), output: output)
    {
        this.directory = directory;
        this.output = output;
    }

    private static string JournalFile(string directory) => Path.Combine(directory, "journal.db");

    /// <summary>The persistence section of base.hocon with its connection strings filled, and the serializer binding.</summary>
    private static Config SystemConfig(string directory)
    {
        var connection = $"\"Data Source={JournalFile(directory)}\"";
        return ConfigurationFactory.ParseString(SpecConfig.Of($$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
                  plugin-dispatcher = "akka.actor.default-dispatcher"
                  provider-name = "SQLite.MS"
                  connection-string = {{connection}}
                  auto-initialize = on
                }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql {
                  class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
                  plugin-dispatcher = "akka.actor.default-dispatcher"
                  provider-name = "SQLite.MS"
                  connection-string = {{connection}}
                  auto-initialize = on
                }
              }
            }
            """, SpecConfig.Serialization, SpecConfig.Dispatchers, SpecConfig.TestTimeouts));
    }

    private RunSettings Settings(string name) =>
        TinyRun.Settings(Path.Combine(directory, name), Distributions) with { Threads = 0 };

    private static IActorRef Experts(ActorSystem system) =>
        system.ActorOf(LocalExpertHost.Props("torch-dispatcher"), "experts-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>The supervisor's reports to its listener, up to and including RunFinished; control acks are skipped.</summary>
    private static List<object> EventsUntilFinished(TestKitBase probe) => EventsUntil(probe, m => m is RunFinished);

    /// <summary>The messages received up to and including the first that <paramref name="last"/> accepts; acks skipped.</summary>
    private static List<object> EventsUntil(TestKitBase probe, Func<object, bool> last)
    {
        var events = new List<object>();
        while (true)
        {
            var m = probe.ReceiveOne(RunTimeout) ?? throw new TimeoutException($"nothing received within {RunTimeout}");
            if (m is ControlAck) continue;
            events.Add(m);
            if (last(m)) return events;
        }
    }

    private void StopAndWait(IActorRef actor)
    {
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor);
    }

    [Fact]
    public void Run_trains_a_phase_per_distribution_growing_the_experts_and_its_log_is_recovered_from_the_journal()
    {
        var settings = Settings("run");
        var supervisor = Sys.ActorOf(PhaseSupervisor.Props(settings, Experts(Sys), TestActor), "supervisor");

        var events = EventsUntilFinished(this);

        // Each phase: its start, the checkpoint right after its growth, the one at its end, its evaluation row.
        Assert.Equal(new[]
        {
            typeof(PhaseStarted), typeof(CheckpointCommitted), typeof(CheckpointCommitted), typeof(PhaseCompleted),
            typeof(PhaseStarted), typeof(CheckpointCommitted), typeof(CheckpointCommitted), typeof(PhaseCompleted),
            typeof(PhaseStarted), typeof(CheckpointCommitted), typeof(CheckpointCommitted), typeof(PhaseCompleted),
            typeof(RunFinished),
        }, events.Select(e => e.GetType()));
        var started = events.OfType<PhaseStarted>().ToList();
        Assert.Equal(new[] { 0, 1, 2 }, started.Select(s => s.Phase));
        Assert.Equal(Distributions, started.Select(s => s.Distribution));
        var perShift = settings.Growth.ExpertsPerShift;
        int initial = settings.Model.InitialExperts;
        Assert.Equal(new[] { initial, initial + perShift, initial + 2 * perShift }, started.Select(s => s.ExpertsPerLayer));
        Assert.Empty(started[0].AddedExperts);
        Assert.Equal(new[] { "L1-E2", "L1-E3" }, started[1].AddedExperts);
        Assert.Equal(new[] { "L1-E4", "L1-E5" }, started[2].AddedExperts);

        var checkpoints = events.OfType<CheckpointCommitted>().ToList();
        Assert.Equal(new[] { false, true, false, true, false, true }, checkpoints.Select(c => c.PhaseEnd));
        Assert.Equal(new long[] { 0, 5, 5, 10, 10, 15 }, checkpoints.Select(c => c.Step));
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 2 }, checkpoints.Select(c => c.Phase));
        foreach (var checkpoint in checkpoints)
        {
            var dir = Path.Combine(settings.OutputDirectory, checkpoint.Path);
            CheckpointDirectory.Verify(dir);
            for (int e = 0; e < started[checkpoint.Phase].ExpertsPerLayer; e++)
                Assert.True(File.Exists(Path.Combine(dir, ModelCheckpoint.ExpertFile(1, e))), $"{dir} lacks expert {e}");
            // A phase's first checkpoint carries the trunk's optimizer state, so a rollback to it resumes exactly.
            Assert.Equal(!checkpoint.PhaseEnd, File.Exists(Path.Combine(dir, GatingActor.TrunkOptimizerFile)));
        }

        var completed = events.OfType<PhaseCompleted>().ToList();
        Assert.Equal(Distributions, completed.Select(c => c.Distribution));
        Assert.All(completed, c => Assert.Equal(3, c.BitsPerByte.Length));
        Assert.All(completed.SelectMany(c => c.BitsPerByte), b => Assert.True(b > 0 && double.IsFinite(b)));
        Assert.Equal(new RunFinished(true, null), events[^1]);

        supervisor.Tell(new GetPhaseLog());
        var log = ExpectMsg<PhaseLog>();
        AssertSameLog(log, events);

        // A new supervisor with the same persistence id on the same journal: the finished run is recovered, not rerun.
        StopAndWait(supervisor);
        var recovered = Sys.ActorOf(PhaseSupervisor.Props(settings, Experts(Sys), TestActor), "recovered");
        ExpectMsg<RunFinished>(f => Assert.True(f.Completed));
        recovered.Tell(new GetPhaseLog());
        AssertSameLog(ExpectMsg<PhaseLog>(), events);
        StopAndWait(recovered);

        // A new actor system on the same database file reads the same log back through the serializer.
        var restarted = ActorSystem.Create("restarted", SystemConfig(directory));
        try
        {
            var probe = CreateTestProbe(restarted);
            var again = restarted.ActorOf(PhaseSupervisor.Props(settings, Experts(restarted), probe.Ref));
            probe.ExpectMsg<RunFinished>(f => Assert.True(f.Completed), RunTimeout);
            again.Tell(new GetPhaseLog(), probe.Ref);
            AssertSameLog(probe.ExpectMsg<PhaseLog>(), events);
        }
        finally
        {
            Shutdown(restarted);
        }

        AssertJournalWrittenByMoeSerializer();
    }

    [Fact]
    public async Task Stopped_run_resumes_after_its_last_completed_phase_as_if_it_had_never_stopped()
    {
        // The experts hold the first step of the second phase until the stop is queued at the loop, so the stop
        // lands in that phase whatever the machine's speed.
        var settings = Settings("stopped");
        var experts = Sys.ActorOf(Props.Create(() => new HoldingHost(settings.StepsPerPhase, TestActor)));
        var supervisor = Sys.ActorOf(PhaseSupervisor.Props(settings, experts, TestActor), "supervisor");
        var first = EventsUntil(this, m => m is PhaseStarted);
        // Resolved between two steps: inside the held step the loop answers nothing, not even Identify.
        var loop = await Sys.ActorSelection(supervisor.Path / "training-loop").ResolveOne(TimeSpan.FromSeconds(20));
        first.AddRange(EventsUntil(this, m => m is HoldingHost.Held));
        loop.Tell(new Stop());
        experts.Tell(new HoldingHost.Release());

        first.AddRange(EventsUntilFinished(this));

        Assert.Equal(new RunFinished(false, "stopped by request"), first[^1]);
        Assert.Single(first.OfType<PhaseCompleted>());
        Assert.Contains(first.OfType<CheckpointCommitted>(), c => !c.PhaseEnd);   // the stop wrote a checkpoint

        StopAndWait(supervisor);
        Sys.ActorOf(PhaseSupervisor.Props(settings, Experts(Sys), TestActor), "resumed");
        var second = EventsUntilFinished(this);

        var restarted = second.OfType<PhaseStarted>().ToList();
        Assert.Equal(1, restarted[0].Phase);
        Assert.Equal(new[] { "scripture", "legal" }, restarted.Select(s => s.Distribution));
        Assert.Equal(new[] { 1, 2 }, second.OfType<PhaseCompleted>().Select(c => c.Phase));
        Assert.Equal(new RunFinished(true, null), second[^1]);

        // The same run without the stop, under another persistence id: every evaluation row is the same.
        var unbrokenSettings = Settings("unbroken");
        var unbrokenExperts = Experts(Sys);
        Sys.ActorOf(Props.Create(() => new PhaseSupervisor(
            resume => TrainingLoop.Props(unbrokenSettings, resume, unbrokenExperts), TestActor, "unbroken")));
        var unbroken = EventsUntilFinished(this).OfType<PhaseCompleted>().ToList();
        var resumed = first.OfType<PhaseCompleted>().Concat(second.OfType<PhaseCompleted>()).ToList();
        Assert.Equal(unbroken.Select(c => c.Distribution), resumed.Select(c => c.Distribution));
        for (int p = 0; p < unbroken.Count; p++)
        {
            output.WriteLine($"phase {p}: unbroken [{string.Join(", ", unbroken[p].BitsPerByte)}] " +
                             $"resumed [{string.Join(", ", resumed[p].BitsPerByte)}]");
            for (int d = 0; d < Distributions.Length; d++)
                Assert.Equal(unbroken[p].BitsPerByte[d], resumed[p].BitsPerByte[d], 1e-6);
        }
    }

    [Fact]
    public void Checkpoint_then_stop_at_the_same_step_ends_the_run_as_stopped_with_one_checkpoint()
    {
        var settings = Settings("paused") with { StepsPerPhase = 100_000 };
        var supervisor = Sys.ActorOf(PhaseSupervisor.Props(settings, Experts(Sys), TestActor), "supervisor");
        ExpectMsg<PhaseStarted>(RunTimeout);
        var phaseStart = ExpectMsg<CheckpointCommitted>();
        AwaitAssert(() => Assert.True(supervisor.Ask<StatusReport>(new GetStatus()).Result.GlobalStep > 0));

        // Paused, no step runs between the two requests: both want a checkpoint of the same step.
        supervisor.Tell(new Pause());
        ExpectMsg<ControlAck>();
        supervisor.Tell(new Checkpoint());
        ExpectMsg<ControlAck>();
        var written = ExpectMsg<CheckpointCommitted>();
        supervisor.Tell(new Checkpoint());
        ExpectMsg<ControlAck>();
        supervisor.Tell(new Stop());
        ExpectMsg<ControlAck>();

        Assert.Equal(new RunFinished(false, "stopped by request"), ExpectMsg<RunFinished>());
        Assert.False(written.PhaseEnd);
        supervisor.Tell(new GetPhaseLog());
        ExpectMsg<PhaseLog>(l => Assert.Equal(new[] { phaseStart, written }, l.Checkpoints));
    }

    [Fact]
    public void Journal_that_cannot_be_opened_ends_the_run_with_an_error_instead_of_silence()
    {
        // The database's folder does not exist and SQLite will not create it: recovery fails.
        var missing = Path.Combine(directory, "no-such-folder", "deeper");
        var system = ActorSystem.Create("unreadable", ConfigurationFactory
            .ParseString("akka.persistence.journal.sql.recovery-event-timeout = 2s")
            .WithFallback(SystemConfig(missing)));
        try
        {
            var probe = CreateTestProbe(system);
            system.ActorOf(PhaseSupervisor.Props(Settings("unreadable"), Experts(system), probe.Ref));

            var finished = probe.ExpectMsg<RunFinished>(RunTimeout);

            Assert.False(finished.Completed);
            Assert.Contains("journal", finished.Error);
        }
        finally
        {
            Shutdown(system);
        }
    }

    [Fact]
    public void Failing_training_loop_ends_the_run_instead_of_restarting_from_a_stale_log()
    {
        var supervisor = Sys.ActorOf(Props.Create(() => new PhaseSupervisor(
            _ => Props.Create(() => new FailingLoop(TestActor)), TestActor, "failing")));
        ExpectMsg("loop started");

        supervisor.Tell(new GetStatus());

        var finished = ExpectMsg<RunFinished>();
        Assert.False(finished.Completed);
        Assert.Contains("loop broke", finished.Error);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));                              // no second "loop started"
        supervisor.Tell(new GetPhaseLog());
        ExpectMsg<PhaseLog>(l => Assert.Equal(finished, l.Finished));
    }

    /// <summary>
    /// Experts under a local host, except that the forwards of one step are held back (and <see cref="Held"/> is
    /// reported) until <see cref="Release"/>: the training loop waits inside that step meanwhile.
    /// </summary>
    private sealed class HoldingHost : ReceiveActor
    {
        public sealed record Held(long Step);

        public sealed record Release;

        private readonly List<(ExpertForward Message, IActorRef Sender)> held = new();
        private bool released;

        public HoldingHost(long step, IActorRef notify)
        {
            var host = Context.ActorOf(LocalExpertHost.Props("torch-dispatcher"), "experts");
            Receive<ExpertForward>(m => !released && m.Key.Step == step, m =>
            {
                if (held.Count == 0) notify.Tell(new Held(step));
                held.Add((m, Sender));
            });
            Receive<Release>(_ =>
            {
                released = true;
                foreach (var (m, sender) in held) host.Tell(m, sender);
                held.Clear();
            });
            Receive<IExpertMessage>(m => host.Forward(m));
        }
    }

    /// <summary>A loop that throws on any control message.</summary>
    private sealed class FailingLoop : ReceiveActor
    {
        public FailingLoop(IActorRef starts)
        {
            starts.Tell("loop started");
            ReceiveAny(_ => throw new InvalidOperationException("loop broke"));
        }
    }

    private static void AssertSameLog(PhaseLog log, IReadOnlyList<object> events)
    {
        var started = events.OfType<PhaseStarted>().ToList();
        Assert.Equal(started.Select(Describe), log.Started.Select(Describe));
        Assert.Equal(events.OfType<CheckpointCommitted>(), log.Checkpoints);
        var completed = events.OfType<PhaseCompleted>().ToList();
        Assert.Equal(completed.Select(Describe), log.Completed.Select(Describe));
        Assert.Equal(events.OfType<RunFinished>().Last(), log.Finished);
    }

    private static string Describe(PhaseStarted s) =>
        $"{s.Phase} {s.Distribution} {s.ExpertsPerLayer} [{string.Join(",", s.AddedExperts)}]";

    private static string Describe(PhaseCompleted c) =>
        $"{c.Phase} {c.Distribution} [{string.Join(",", c.BitsPerByte.Select(b => b.ToString("R")))}] {c.ReportJson}";

    /// <summary>Events in the SQLite file carry the moe-messagepack serializer's id, not a JSON fallback.</summary>
    private void AssertJournalWrittenByMoeSerializer()
    {
        using var connection = new SqliteConnection($"Data Source={JournalFile(directory)};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT identifier, manifest, COUNT(*) FROM journal GROUP BY identifier, manifest";
        using var reader = command.ExecuteReader();
        var rows = new List<(long Id, string Manifest, long Count)>();
        while (reader.Read()) rows.Add((reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2)));

        foreach (var row in rows) output.WriteLine($"journal: serializer {row.Id}, {row.Manifest} x{row.Count}");
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal(4711, r.Id));
        Assert.Equal(new[] { "CheckpointCommitted", "PhaseCompleted", "PhaseStarted", "RunFinished" },
            rows.Select(r => r.Manifest).Order());
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        SqliteConnection.ClearAllPools();
        TinyRun.Delete(directory);
    }
}
