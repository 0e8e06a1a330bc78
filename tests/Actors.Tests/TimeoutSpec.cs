using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.TestActors;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Gating;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// An expert that does not answer is an error that names it, reported to whoever asked: the channel throws, the
/// gating actor replies Status.Failure, the run ends with RunFinished(Completed false). Nothing hangs.
/// </summary>
public sealed class TimeoutSpec : TestKit
{
    private const string Config = """
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """;

    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    // Where the same experts must first answer some requests (weights, steps), a cold start on a busy machine can
    // take longer than the short timeout; those specs wait a little longer for the request that is never answered.
    private static readonly TimeSpan Patient = TimeSpan.FromSeconds(2);
    private static readonly AdamWSettings Adam = AdamWSettings.From(new AdamWOptions());

    private static readonly ModelConfig Model = new(VocabSize: 256, ContextLength: 8, DModel: 16, NumHeads: 2,
        NumLayers: 2, DFf: 32, MoeEvery: 2, InitialExperts: 4, TopK: 2);

    private readonly string directory = TinyRun.TempDirectory("timeout");

    public TimeoutSpec(ITestOutputHelper output)
        : base(SpecConfig.Of(Config, SpecConfig.Dispatchers, SpecConfig.TestTimeouts), output)
    {
    }

    /// <summary>Serves every expert request through a local host, except forwards, which it drops.</summary>
    private sealed class ForwardDroppingHost : ReceiveActor
    {
        public ForwardDroppingHost()
        {
            var host = Context.ActorOf(LocalExpertHost.Props(), "experts");
            Receive<ExpertForward>(_ => { });
            Receive<IExpertMessage>(m => host.Forward(m));
        }
    }

    [Fact]
    public void Channel_to_an_expert_that_swallows_requests_raises_a_timeout_naming_expert_request_and_step()
    {
        var blackHole = Sys.ActorOf(BlackHoleActor.Props);
        var channel = new AskExpertChannel(blackHole, Short, CPU, Adam);
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<ExpertTimeoutException>(() =>
            channel.Forward(new StepKey(7, 0, 3), new[] { new ExpertCall("L3-E1", randn(4, 16)) }, keepGraph: true));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the timeout took {clock.Elapsed}");
        Assert.Equal("L3-E1", e.ExpertId);
        Assert.Contains("expert L3-E1", e.Message);
        Assert.Contains("ExpertForward", e.Message);
        Assert.Contains("step 7", e.Message);
        Assert.Contains("layer 3", e.Message);
    }

    [Fact]
    public void Channel_names_the_silent_expert_among_several_that_answer()
    {
        var host = Sys.ActorOf(Props.Create(() => new ForwardDroppingHost()));
        var setup = new AskExpertChannel(host, TimeSpan.FromSeconds(20), CPU, Adam);
        var channel = new AskExpertChannel(host, Short, CPU, Adam);
        manual_seed(1);
        using var expert = new Expert(16, 32);
        setup.Init("L1-E0", expert.StateDict(), frozen: false);
        setup.Init("L1-E1", expert.StateDict(), frozen: false);

        // Apply-step is answered by both; a backward of a step whose forward never happened fails at once.
        setup.ApplyStep(2, new[] { "L1-E0", "L1-E1" }, 1e-3, 1.0);
        var failed = Assert.Throws<ExpertRequestException>(() => setup.Backward(new StepKey(2, 0, 1),
            new[] { new ExpertCall("L1-E1", randn(3, 16)) }));
        var silent = Assert.Throws<ExpertTimeoutException>(() =>
            channel.Forward(new StepKey(3, 0, 1), new[] { new ExpertCall("L1-E0", randn(3, 16)) }, keepGraph: false));

        Assert.Equal("L1-E1", failed.ExpertId);
        Assert.Contains("ExpertBackward", failed.Message);
        Assert.Equal("L1-E0", silent.ExpertId);
    }

    [Fact]
    public void Gating_actor_answers_run_step_with_the_timeout_as_a_failure()
    {
        var host = Sys.ActorOf(Props.Create(() => new ForwardDroppingHost()));
        var channel = new AskExpertChannel(host, Patient, CPU, Adam);
        manual_seed(3);
        var gating = Sys.ActorOf(GatingActor.Props(new MoeTransformer(Model), new TrainOptions(), new GrowthOptions(),
            channel, CPU, seed: 3).WithDispatcher("gating-dispatcher"));
        gating.Tell(new BeginPhase(0, 10, Shift: false));
        ExpectMsg<PhaseBegun>();
        var batch = TestCorpus.Batches("fiction", 1, 2, Model.ContextLength)[0];

        gating.Tell(new RunStep(41, batch.Tokens, batch.BatchSize));

        var cause = Assert.IsType<ExpertTimeoutException>(ExpectMsg<Status.Failure>().Cause);
        Assert.StartsWith("L1-E", cause.ExpertId);
        Assert.Contains($"expert {cause.ExpertId}", cause.Message);
        Assert.Contains("ExpertForward", cause.Message);
        Assert.Contains("step 41", cause.Message);
    }

    [Fact]
    public void Gating_actor_whose_experts_never_answer_fails_its_first_request_instead_of_dying()
    {
        var channel = new AskExpertChannel(Sys.ActorOf(BlackHoleActor.Props), Short, CPU, Adam);
        manual_seed(3);
        var gating = Sys.ActorOf(GatingActor.Props(new MoeTransformer(Model), new TrainOptions(), new GrowthOptions(),
            channel, CPU, seed: 3).WithDispatcher("gating-dispatcher"));
        Watch(gating);

        gating.Tell(new BeginPhase(0, 10, Shift: false));

        var cause = Assert.IsType<ExpertTimeoutException>(ExpectMsg<Status.Failure>().Cause);
        Assert.Contains("InitExpert to expert L1-E0", cause.Message);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));                              // in particular, no Terminated
    }

    [Fact]
    public void Run_whose_experts_never_answer_finishes_incomplete_with_an_error_naming_the_expert()
    {
        var settings = TinyRun.Settings(directory, "fiction") with { ExpertTimeout = Short };
        var experts = Sys.ActorOf(BlackHoleActor.Props);

        Sys.ActorOf(PhaseSupervisor.Props(settings, experts, TestActor));

        var finished = ExpectMsg<RunFinished>(TimeSpan.FromSeconds(60));
        Assert.False(finished.Completed);
        Assert.Matches(@"expert L\d+-E\d+", finished.Error);
        Assert.Contains("no reply", finished.Error);
        Assert.Contains($"after {settings.MaxRecoveriesPerPhase} rollback(s)", finished.Error);
    }

    [Fact]
    public void Run_whose_experts_stop_answering_mid_phase_finishes_incomplete_with_an_error_naming_the_expert()
    {
        var settings = TinyRun.Settings(directory, "fiction") with { ExpertTimeout = Patient, MaxRecoveriesPerPhase = 1 };
        var experts = Sys.ActorOf(Props.Create(() => new ForwardDroppingHost()));

        Sys.ActorOf(PhaseSupervisor.Props(settings, experts, TestActor));

        // The phase's first checkpoint; one rollback to it, whose repeated step fails the same way; then the end.
        ExpectMsg<PhaseStarted>(TimeSpan.FromSeconds(60));
        ExpectMsg<CheckpointCommitted>(c => Assert.False(c.PhaseEnd));
        var recovered = ExpectMsg<RunRecovered>();
        var finished = ExpectMsg<RunFinished>();
        Assert.Equal(0, recovered.RestoredStep);
        Assert.False(finished.Completed);
        Assert.Matches(@"ExpertForward to expert L\d+-E\d+ \(step 0,", finished.Error);
        Assert.Contains("after 1 rollback", finished.Error);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) TinyRun.Delete(directory);
    }
}
