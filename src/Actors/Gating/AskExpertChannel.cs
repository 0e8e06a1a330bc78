using Akka.Actor;
using LifelongMoE.Actors.Messages;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Gating;

/// <summary>
/// Reaches experts through an actor that routes by expert id (the sharding region, or a local host in tests).
/// Requests of one exchange go out together and are awaited together; the first failure or timeout fails the
/// whole exchange with an error that names the expert, the request and the step.
/// </summary>
public sealed class AskExpertChannel(IActorRef experts, TimeSpan timeout, Device device, AdamWSettings adam)
    : IExpertChannel
{
    public IReadOnlyList<Tensor> Forward(StepKey key, IReadOnlyList<ExpertCall> calls, bool keepGraph)
    {
        var replies = AwaitAll<ExpertForwardDone>(calls.Select(c =>
            (c.ExpertId, (object)new ExpertForward(c.ExpertId, key, TensorPayload.Own(c.Tensor), keepGraph))), key);
        return replies.Select(r => Adopt(r.Output.Tensor)).ToList();
    }

    public IReadOnlyList<(Tensor InputGrad, double SquaredNorm)> Backward(StepKey key,
        IReadOnlyList<ExpertCall> outputGrads)
    {
        var replies = AwaitAll<ExpertBackwardDone>(outputGrads.Select(c =>
            (c.ExpertId, (object)new ExpertBackward(c.ExpertId, key, TensorPayload.Own(c.Tensor)))), key);
        return replies.Select(r => (Adopt(r.InputGrad.Tensor), r.SquaredGradNorm)).ToList();
    }

    public void ApplyStep(long step, IReadOnlyCollection<string> expertIds, double learningRate, double gradScale) =>
        AwaitAll<StepApplied>(expertIds.Select(id => (id, (object)new ApplyStep(id, step, learningRate, gradScale))),
            new StepKey(step, 0, -1));

    public void Init(string expertId, IReadOnlyDictionary<string, Tensor> weights, bool frozen) =>
        AwaitAll<Ack>(new[]
            {
                (expertId, (object)new InitExpert(expertId, TensorMap.Own(weights), frozen, adam, device.ToString())),
            },
            null);

    public void Freeze(IReadOnlyCollection<string> expertIds) =>
        AwaitAll<Ack>(expertIds.Select(id => (id, (object)new FreezeExpert(id))), null);

    public IReadOnlyDictionary<string, Tensor> Weights(string expertId)
    {
        var reply = AwaitAll<ExpertWeights>(new[] { (expertId, (object)new GetExpertWeights(expertId)) }, null)[0];
        return reply.Weights.Tensors.ToDictionary(kv => kv.Key, kv => Adopt(kv.Value).DetachFromDisposeScope());
    }

    public void Save(IReadOnlyCollection<(string ExpertId, string Path)> targets, bool withOptimizer) =>
        AwaitAll<ExpertSaved>(
            targets.Select(t => (t.ExpertId, (object)new SaveExpert(t.ExpertId, t.Path, withOptimizer))),
            null);

    public void Restore(IReadOnlyCollection<(string ExpertId, string Path, bool Frozen)> sources) =>
        AwaitAll<Ack>(sources.Select(s =>
            (s.ExpertId, (object)new RestoreExpert(s.ExpertId, s.Path, s.Frozen, adam, device.ToString()))), null);

    /// <summary>A received tensor, copied into the caller's dispose scope on the compute device.</summary>
    private Tensor Adopt(Tensor received)
    {
        var local = received.to(device, copy: true);
        received.Dispose();
        return local;
    }

    private T[] AwaitAll<T>(IEnumerable<(string ExpertId, object Message)> requests, StepKey? key)
    {
        var sent = requests.Select(r => (r.ExpertId, r.Message, Task: experts.Ask<T>(r.Message, timeout))).ToList();
        try
        {
            Task.WaitAll(sent.Select(s => (Task)s.Task).ToArray());
        }
        catch (AggregateException)
        {
            var failed = sent.First(s => s.Task.IsFaulted || s.Task.IsCanceled);
            var cause = failed.Task.Exception?.GetBaseException();
            var what = $"{failed.Message.GetType().Name} to expert {failed.ExpertId}"
                + (key is null ? "" : $" ({key})");
            if (cause is AskTimeoutException || failed.Task.IsCanceled)
                throw new ExpertTimeoutException($"{what} got no reply within {timeout.TotalSeconds:0.#} s",
                    failed.ExpertId);
            throw new ExpertRequestException($"{what} failed: {cause?.Message}", failed.ExpertId, cause);
        }
        return sent.Select(s => s.Task.Result).ToArray();
    }
}

/// <summary>
/// An expert did not answer in time. The training loop reports it and stops or recovers; it never hangs.
/// </summary>
public sealed class ExpertTimeoutException(string message, string expertId) : Exception(message)
{
    public string ExpertId { get; } = expertId;
}

public sealed class ExpertRequestException(string message, string expertId, Exception? inner)
    : Exception(message, inner)
{
    public string ExpertId { get; } = expertId;
}
