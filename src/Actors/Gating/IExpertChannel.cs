using LifelongMoE.Actors.Messages;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Gating;

/// <summary>One expert's share of an all-to-all exchange: its id and the tensor it receives.</summary>
public sealed record ExpertCall(string ExpertId, Tensor Tensor);

/// <summary>
/// How the gating side reaches experts. Every call blocks until all replies are in or a timeout fails it, so the
/// torch work around it stays synchronous on one thread. Tensors passed in are sent as copies; tensors returned
/// belong to the caller.
/// </summary>
public interface IExpertChannel
{
    /// <returns>one output per call, in call order</returns>
    IReadOnlyList<Tensor> Forward(StepKey key, IReadOnlyList<ExpertCall> calls, bool keepGraph);

    /// <returns>per call: the gradient of the expert's inputs and its squared parameter-gradient norm</returns>
    IReadOnlyList<(Tensor InputGrad, double SquaredNorm)> Backward(StepKey key, IReadOnlyList<ExpertCall> outputGrads);

    void ApplyStep(long step, IReadOnlyCollection<string> expertIds, double learningRate, double gradScale);

    void Init(string expertId, IReadOnlyDictionary<string, Tensor> weights, bool frozen);

    void Freeze(IReadOnlyCollection<string> expertIds);

    /// <returns>a copy of the expert's weights, owned by the caller</returns>
    IReadOnlyDictionary<string, Tensor> Weights(string expertId);

    void Save(IReadOnlyCollection<(string ExpertId, string Path)> targets, bool withOptimizer);

    void Restore(IReadOnlyCollection<(string ExpertId, string Path, bool Frozen)> sources);
}
