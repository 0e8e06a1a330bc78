using Akka.Actor;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// One expert entity driven by messages only, checked against the same <see cref="Expert"/> module and
/// <see cref="AdamW"/> run locally: forward, backward, optimizer step, freezing, failures and checkpoints.
/// </summary>
public sealed class ExpertActorSpec : TestKit
{
    private const int DModel = 16, DFf = 32, Tokens = 5;
    private const string Id = "L1-E3";

    private static readonly AdamWOptions Adam = new(Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1);

    private readonly string directory = Path.Combine(Path.GetTempPath(), "lmoe-expert-spec-" + Guid.NewGuid().ToString("N"));
    private readonly Expert local;

    public ExpertActorSpec(ITestOutputHelper output) : base(SpecConfig.TestTimeouts, output)
    {
        manual_seed(21);
        local = new Expert(DModel, DFf);
    }

    private IActorRef Initialised(string name = "expert", bool frozen = false)
    {
        var expert = Sys.ActorOf(ExpertActor.Props(Id), name);
        expert.Tell(new InitExpert(Id, TensorMap.Own(local.StateDict()), frozen, AdamWSettings.From(Adam), "cpu"));
        ExpectMsg<Ack>(a => Assert.Equal(Id, a.From));
        return expert;
    }

    private static Tensor Input(int seed)
    {
        manual_seed(seed);
        return randn(Tokens, DModel);                                              // (tokens, d_model)
    }

    private static StepKey Key(long step) => new(step, 0, 1);

    /// <summary>Forward then backward of the local module; returns the input gradient.</summary>
    private Tensor LocalForwardBackward(Tensor x, Tensor outputGrad)
    {
        var leaf = x.clone().requires_grad_(true);
        local.forward(leaf).backward(new[] { outputGrad });
        return leaf.grad!.clone();
    }

    private static double SquaredGradNorm(Expert e) =>
        e.parameters().Sum(p => p.grad is null ? 0 : p.grad.to(ScalarType.Float64).square().sum().item<double>());

    private ExpertBackwardDone ForwardBackward(IActorRef expert, long step, Tensor x, Tensor outputGrad)
    {
        expert.Tell(new ExpertForward(Id, Key(step), TensorPayload.Own(x), KeepGraph: true));
        ExpectMsg<ExpertForwardDone>().Output.Tensor.Dispose();
        expert.Tell(new ExpertBackward(Id, Key(step), TensorPayload.Own(outputGrad)));
        return ExpectMsg<ExpertBackwardDone>();
    }

    private IReadOnlyDictionary<string, Tensor> WeightsOf(IActorRef expert)
    {
        expert.Tell(new GetExpertWeights(Id));
        return ExpectMsg<ExpertWeights>().Weights.Tensors;
    }

    [Fact]
    public void Forward_with_graph_returns_the_output_of_the_expert_module_applied_locally()
    {
        var expert = Initialised();
        var x = Input(1);

        expert.Tell(new ExpertForward(Id, Key(0), TensorPayload.Own(x), KeepGraph: true));

        var done = ExpectMsg<ExpertForwardDone>();
        Assert.Equal(Id, done.ExpertId);
        Assert.Equal(Key(0), done.Key);
        using (no_grad()) TensorAssert.Bitwise(local.forward(x), done.Output.Tensor, "expert output");
        expert.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.Equal(1, s.PendingGraphs));
    }

    [Fact]
    public void Forward_without_graph_keeps_nothing_pending()
    {
        var expert = Initialised();
        var x = Input(1);

        expert.Tell(new ExpertForward(Id, Key(0), TensorPayload.Own(x), KeepGraph: false));

        using (no_grad()) TensorAssert.Bitwise(local.forward(x), ExpectMsg<ExpertForwardDone>().Output.Tensor);
        expert.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.Equal(0, s.PendingGraphs));
    }

    [Fact]
    public void Backward_returns_the_input_gradient_and_parameter_gradient_norm_of_local_autograd()
    {
        var expert = Initialised();
        var x = Input(1);
        var outputGrad = Input(2);

        var done = ForwardBackward(expert, 0, x, outputGrad);

        var inputGrad = LocalForwardBackward(x, outputGrad);
        Assert.Equal(Key(0), done.Key);
        TensorAssert.Close(inputGrad, done.InputGrad.Tensor, 1e-6, "input gradient");
        double expected = SquaredGradNorm(local);
        Assert.True(expected > 0);
        Assert.Equal(expected, done.SquaredGradNorm, expected * 1e-9);
        expert.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.Equal(0, s.PendingGraphs));
    }

    [Fact]
    public void Apply_step_moves_the_weights_exactly_like_local_AdamW()
    {
        var expert = Initialised();
        using var optimizer = new AdamW(local.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), Adam);

        // Two steps: the second one also exercises the moments kept between steps.
        for (int step = 0; step < 2; step++)
        {
            var x = Input(10 + step);
            var outputGrad = Input(20 + step);
            ForwardBackward(expert, step, x, outputGrad);
            expert.Tell(new ApplyStep(Id, step, LearningRate: 1e-2, GradScale: 0.5));
            ExpectMsg<StepApplied>(a => Assert.True(a.Moved));

            LocalForwardBackward(x, outputGrad);
            optimizer.Step(1e-2, 0.5);
            optimizer.ZeroGrad();
        }

        TensorAssert.Bitwise(local.StateDict(), WeightsOf(expert));
        expert.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.Equal(2, s.Steps));
    }

    [Fact]
    public void Apply_step_to_an_expert_that_received_no_tokens_still_counts_the_step()
    {
        var expert = Initialised();

        expert.Tell(new ApplyStep(Id, 0, 1e-2, 1.0));

        ExpectMsg<StepApplied>(a => Assert.True(a.Moved));
        TensorAssert.Bitwise(local.StateDict(), WeightsOf(expert));                // no gradient yet: nothing moves
        expert.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.Equal(1, s.Steps));
    }

    [Fact]
    public void Frozen_expert_ignores_apply_step_and_keeps_its_weights_bitwise()
    {
        var expert = Initialised();
        ForwardBackward(expert, 0, Input(1), Input(2));                          // gradients are pending

        expert.Tell(new FreezeExpert(Id));
        ExpectMsg<Ack>();
        expert.Tell(new ApplyStep(Id, 0, 1e-1, 1.0));

        ExpectMsg<StepApplied>(a => Assert.False(a.Moved));
        TensorAssert.Bitwise(local.StateDict(), WeightsOf(expert));
        expert.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.True(s.Frozen));
    }

    [Fact]
    public void Frozen_expert_still_returns_the_input_gradient_with_a_zero_norm()
    {
        var expert = Initialised(frozen: true);
        var x = Input(1);
        var outputGrad = Input(2);

        var done = ForwardBackward(expert, 0, x, outputGrad);

        TensorAssert.Close(LocalForwardBackward(x, outputGrad), done.InputGrad.Tensor, 1e-6, "input gradient");
        Assert.Equal(0.0, done.SquaredGradNorm);
    }

    [Fact]
    public void Backward_without_a_pending_forward_fails_naming_the_expert()
    {
        var expert = Initialised();

        expert.Tell(new ExpertBackward(Id, Key(4), TensorPayload.Own(Input(2))));

        var failure = ExpectMsg<Status.Failure>();
        var cause = Assert.IsType<ExpertFailedException>(failure.Cause);
        Assert.Equal(Id, cause.ExpertId);
        Assert.Contains(Id, cause.Message);
        Assert.Contains("ExpertBackward", cause.Message);
        Assert.Contains("step 4", cause.Message);
    }

    [Fact]
    public void Duplicated_backward_fails_and_the_first_one_is_answered()
    {
        var expert = Initialised();
        ForwardBackward(expert, 0, Input(1), Input(2));

        expert.Tell(new ExpertBackward(Id, Key(0), TensorPayload.Own(Input(2))));

        var cause = Assert.IsType<ExpertFailedException>(ExpectMsg<Status.Failure>().Cause);
        Assert.Contains("late or duplicated", cause.Message);
    }

    [Fact]
    public void Backward_of_another_step_than_the_pending_forward_fails()
    {
        var expert = Initialised();
        expert.Tell(new ExpertForward(Id, Key(1), TensorPayload.Own(Input(1)), KeepGraph: true));
        ExpectMsg<ExpertForwardDone>();

        expert.Tell(new ExpertBackward(Id, Key(0), TensorPayload.Own(Input(2))));

        Assert.IsType<ExpertFailedException>(ExpectMsg<Status.Failure>().Cause);
    }

    [Fact]
    public void Requests_before_init_fail_clearly()
    {
        var expert = Sys.ActorOf(ExpertActor.Props(Id));

        expert.Tell(new ExpertForward(Id, Key(0), TensorPayload.Own(Input(1)), KeepGraph: true));
        var forward = Assert.IsType<ExpertFailedException>(ExpectMsg<Status.Failure>().Cause);
        expert.Tell(new ApplyStep(Id, 0, 1e-3, 1));
        var step = Assert.IsType<ExpertFailedException>(ExpectMsg<Status.Failure>().Cause);
        expert.Tell(new GetExpertWeights(Id));
        ExpectMsg<Status.Failure>();

        Assert.Contains("has no weights yet", forward.Message);
        Assert.Contains("InitExpert", forward.Message);
        Assert.Contains("ApplyStep", step.Message);
        expert.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.False(s.Initialised));
    }

    [Fact]
    public void Save_and_restore_round_trip_weights_and_optimizer_state_bitwise()
    {
        var original = Initialised("original");
        ForwardBackward(original, 0, Input(1), Input(2));
        original.Tell(new ApplyStep(Id, 0, 1e-2, 1.0));
        ExpectMsg<StepApplied>();
        var path = Path.Combine(directory, "experts", Id + ".safetensors");

        original.Tell(new SaveExpert(Id, path, WithOptimizer: true));
        ExpectMsg<ExpertSaved>(s => Assert.Equal(path, s.Path));
        var restored = Sys.ActorOf(ExpertActor.Props(Id), "restored");
        restored.Tell(new RestoreExpert(Id, path, Frozen: false, AdamWSettings.From(Adam), "cpu"));
        ExpectMsg<Ack>();

        TensorAssert.Bitwise(WeightsOf(original), WeightsOf(restored));
        restored.Tell(new GetExpertState(Id));
        ExpectMsg<ExpertState>(s => Assert.Equal(1, s.Steps));

        // The moments came back too: the same next step moves both copies identically.
        foreach (var expert in new[] { original, restored })
        {
            ForwardBackward(expert, 1, Input(3), Input(4));
            expert.Tell(new ApplyStep(Id, 1, 1e-2, 1.0));
            ExpectMsg<StepApplied>();
        }
        TensorAssert.Bitwise(WeightsOf(original), WeightsOf(restored));
    }

    [Fact]
    public void Restore_from_a_missing_file_fails_naming_the_expert()
    {
        var expert = Sys.ActorOf(ExpertActor.Props(Id));

        expert.Tell(new RestoreExpert(Id, Path.Combine(directory, "none.safetensors"), false, AdamWSettings.From(Adam),
            "cpu"));

        var cause = Assert.IsType<ExpertFailedException>(ExpectMsg<Status.Failure>().Cause);
        Assert.Contains("RestoreExpert", cause.Message);
        Assert.Contains("file not found", cause.Message);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        local.Dispose();
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }
}
