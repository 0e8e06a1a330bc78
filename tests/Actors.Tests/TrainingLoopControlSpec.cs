using Akka.Actor;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using LifelongMoE.Actors.Training;
using Xunit.Abstractions;

namespace LifelongMoE.Actors.Tests;

/// <summary>The training loop obeys Pause, Resume, Checkpoint, Status and Stop between steps.</summary>
public class TrainingLoopControlSpec(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public void Loop_pauses_resumes_checkpoints_and_stops_between_steps()
    {
        var outDir = TinyRun.TempDirectory("control");
        var settings = TinyRun.Settings(outDir, "fiction", "scripture") with { StepsPerPhase = 400, BatchSize = 4 };
        var experts = Sys.ActorOf(LocalExpertHost.Props(), "experts");
        var parent = CreateTestProbe();
        var progress = CreateTestProbe();
        Sys.EventStream.Subscribe(progress.Ref, typeof(TrainingProgress));

        var loop = parent.ChildActorOf(TrainingLoop.Props(settings, PhaseLog.Empty, experts));
        parent.ExpectMsg<PhaseStarted>(TimeSpan.FromSeconds(60));
        progress.ExpectMsg<TrainingProgress>(TimeSpan.FromSeconds(30));

        loop.Tell(new Pause(), TestActor);
        ExpectMsg<ControlAck>();
        var paused = loop.Ask<StatusReport>(new GetStatus()).Result;
        Assert.Equal("paused", paused.State);

        // While paused no step runs: the step count stays put.
        progress.ReceiveWhile(TimeSpan.FromSeconds(1), m => m);
        var later = loop.Ask<StatusReport>(new GetStatus()).Result;
        Assert.Equal(paused.GlobalStep, later.GlobalStep);
        Assert.Equal(paused.StepInPhase, later.StepInPhase);

        loop.Tell(new Checkpoint(), TestActor);
        ExpectMsg<ControlAck>();
        // The one asked for, of the step the loop paused at (the phase's first checkpoint came before it).
        var checkpoint = parent.FishForMessage<CheckpointCommitted>(c => c.Step == later.GlobalStep,
            TimeSpan.FromSeconds(30));
        Assert.False(checkpoint.PhaseEnd);
        Assert.True(File.Exists(Path.Combine(outDir, checkpoint.Path, "manifest.json")));

        loop.Tell(new Resume(), TestActor);
        ExpectMsg<ControlAck>();
        AwaitAssert(() => Assert.True(loop.Ask<StatusReport>(new GetStatus()).Result.GlobalStep > later.GlobalStep + 1),
            TimeSpan.FromSeconds(30));
        Assert.Equal("training", loop.Ask<StatusReport>(new GetStatus()).Result.State);

        loop.Tell(new Stop(), TestActor);
        ExpectMsg<ControlAck>();
        var finished = parent.FishForMessage<RunFinished>(_ => true, TimeSpan.FromSeconds(30));
        Assert.False(finished.Completed);
        Assert.Equal("stopped by request", finished.Error);
    }
}
