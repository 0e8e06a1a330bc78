using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Event;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Experts;

/// <summary>
/// One expert (a Cluster Sharding entity, id "L{block}-E{expert}"): its weights, its AdamW state and the autograd
/// graphs of forwards awaiting their backward. All torch work is synchronous inside one handler, each in its
/// own dispose scope; tensors that outlive a handler (weights, optimizer state, pending graphs) are detached
/// from every scope and disposed explicitly.
/// </summary>
public sealed class ExpertActor : ReceiveActor
{
    private readonly string id;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Dictionary<StepKey, (Tensor Input, Tensor Output)> pending = new();
    private Expert? expert;
    private AdamW? optimizer;
    private Device device = CPU;

    public ExpertActor(string id)
    {
        this.id = id;
        Receive<InitExpert>(Guard<InitExpert>(Init));
        Receive<RestoreExpert>(Guard<RestoreExpert>(Restore));
        Receive<ExpertForward>(Guard<ExpertForward>(Forward));
        Receive<ExpertBackward>(Guard<ExpertBackward>(Backward));
        Receive<ApplyStep>(Guard<ApplyStep>(Step));
        Receive<FreezeExpert>(Guard<FreezeExpert>(Freeze));
        Receive<SaveExpert>(Guard<SaveExpert>(Save));
        Receive<GetExpertWeights>(Guard<GetExpertWeights>(_ =>
            Sender.Tell(new ExpertWeights(id, TensorMap.Own(Require().StateDict())))));
        Receive<GetExpertState>(_ => Sender.Tell(new ExpertState(id, expert != null, expert?.Frozen ?? false,
            optimizer?.Steps ?? 0, pending.Count)));
    }

    public static Props Props(string id) => Akka.Actor.Props.Create(() => new ExpertActor(id));

    /// <summary>
    /// Runs a handler; any exception becomes a Status.Failure reply naming this expert and the request.
    /// </summary>
    private Action<T> Guard<T>(Action<T> handler) => message =>
    {
        try
        {
            using var scope = NewDisposeScope();
            handler(message);
        }
        catch (Exception e)
        {
            log.Warning("expert {0}: {1} failed: {2}", id, typeof(T).Name, e.Message);
            Sender.Tell(new Status.Failure(new ExpertFailedException(id, typeof(T).Name, e)));
        }
    };

    private Expert Require() =>
        expert ?? throw new InvalidOperationException(
            $"expert {id} has no weights yet (send InitExpert or RestoreExpert)");

    private void Init(InitExpert m)
    {
        device = new Device(m.Device);
        var built = Build(m.Weights.Tensors);
        m.Weights.Dispose();
        Replace(built, m.Frozen, m.Adam);
        Sender.Tell(new Ack(id));
    }

    private void Restore(RestoreExpert m)
    {
        device = new Device(m.Device);
        Replace(Build(SafeTensors.Load(m.Path)), m.Frozen, m.Adam);
        var optimizerPath = OptimizerPath(m.Path);
        if (optimizer is not null && File.Exists(optimizerPath))
            optimizer.LoadStateDict(SafeTensors.Load(optimizerPath, device));
        Sender.Tell(new Ack(id));
    }

    /// <summary>An expert on this actor's device, shaped and filled from fc1/fc2 weights.</summary>
    private Expert Build(IReadOnlyDictionary<string, Tensor> weights)
    {
        var fc1 = weights["fc1.weight"];                                      // (d_ff, d_model)
        var built = new Expert((int)fc1.shape[1], (int)fc1.shape[0], device, fc1.dtype);
        built.LoadWeights(weights);
        return built;
    }

    private void Replace(Expert built, bool frozen, AdamWSettings adam)
    {
        DropPending();
        optimizer?.Dispose();
        expert?.Dispose();
        expert = built;
        expert.SetFrozen(frozen);
        optimizer = frozen ? null : new AdamW(expert.named_parameters().Select(p => (p.name, (Tensor)p.parameter)),
            adam.ToOptions());
    }

    private void Forward(ExpertForward m)
    {
        var e = Require();
        var input = m.Input.On(device);
        if (!m.KeepGraph)
        {
            using var _ = no_grad();
            var y = e.forward(input);
            input.Dispose();
            Sender.Tell(new ExpertForwardDone(id, m.Key, new TensorPayload(y.DetachFromDisposeScope())));
            return;
        }

        // The graph must reach the input even when the expert is frozen: the trunk below needs that gradient.
        var leaf = input.requires_grad_(true);
        var output = e.forward(leaf);
        if (pending.Remove(m.Key, out var stale)) DisposePair(stale);
        pending[m.Key] = (leaf.DetachFromDisposeScope(), output.DetachFromDisposeScope());
        Sender.Tell(new ExpertForwardDone(id, m.Key, TensorPayload.Own(output)));
    }

    private void Backward(ExpertBackward m)
    {
        Require();
        if (!pending.Remove(m.Key, out var graph))
            throw new InvalidOperationException($"no forward pending for {m.Key} (late or duplicated backward)");
        try
        {
            var grad = m.OutputGrad.On(device);
            graph.Output.backward(new[] { grad });
            grad.Dispose();
            var inputGrad = graph.Input.grad ?? zeros_like(graph.Input);
            double squared = optimizer?.SquaredGradNorm() ?? 0;
            Sender.Tell(new ExpertBackwardDone(id, m.Key, TensorPayload.Own(inputGrad), squared));
        }
        finally
        {
            DisposePair(graph);
        }
    }

    private void Step(ApplyStep m)
    {
        Require();
        DropPending();
        bool moved = optimizer is not null;
        if (optimizer is not null)
        {
            optimizer.Step(m.LearningRate, m.GradScale);
            optimizer.ZeroGrad();
        }
        Sender.Tell(new StepApplied(id, m.Step, moved));
    }

    private void Freeze(FreezeExpert m)
    {
        Require().SetFrozen(true);
        optimizer?.Dispose();
        optimizer = null;
        Sender.Tell(new Ack(id));
    }

    private void Save(SaveExpert m)
    {
        SafeTensors.Save(m.Path, Require().StateDict(), new Dictionary<string, string> { ["expert"] = id });
        if (m.WithOptimizer && optimizer is not null) SafeTensors.Save(OptimizerPath(m.Path), optimizer.StateDict());
        Sender.Tell(new ExpertSaved(id, m.Path));
    }

    /// <summary>Optimizer state sits beside the weights: L1-E3.safetensors -> L1-E3.optim.safetensors.</summary>
    public static string OptimizerPath(string weightsPath) =>
        Path.Combine(Path.GetDirectoryName(weightsPath)!,
            Path.GetFileNameWithoutExtension(weightsPath) + ".optim.safetensors");

    private void DropPending()
    {
        foreach (var pair in pending.Values) DisposePair(pair);
        pending.Clear();
    }

    private static void DisposePair((Tensor Input, Tensor Output) pair)
    {
        pair.Input.Dispose();
        pair.Output.Dispose();
    }

    protected override void PostStop()
    {
        DropPending();
        optimizer?.Dispose();
        expert?.Dispose();
        base.PostStop();
    }
}

/// <summary>An expert could not serve a request; names the expert and the request.</summary>
[Serializable]
public sealed class ExpertFailedException : Exception
{
    public ExpertFailedException(string expertId, string request, Exception inner)
        : base($"expert {expertId} failed {request}: {inner.Message}", inner)
    {
        ExpertId = expertId;
    }

    // Akka.Remote carries the cause of a Status.Failure between nodes through GetObjectData and this constructor;
    // without it the requester on another node would get a failure with no cause, and no reason. The inner
    // exception may not survive the trip (its type needs the same constructor), so the message repeats its text.
#pragma warning disable SYSLIB0051, CS0672
    private ExpertFailedException(SerializationInfo info, StreamingContext context) : base(info, context)
    {
        ExpertId = info.GetString(nameof(ExpertId)) ?? "";
    }

    public override void GetObjectData(SerializationInfo info, StreamingContext context)
    {
        base.GetObjectData(info, context);
        info.AddValue(nameof(ExpertId), ExpertId);
    }
#pragma warning restore SYSLIB0051, CS0672

    public string ExpertId { get; }
}
