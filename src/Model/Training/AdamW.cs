using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Training;

/// <summary>Hyper-parameters of <see cref="AdamW"/>. Weight decay is explicit (PyTorch's default is 0.01).</summary>
public sealed record AdamWOptions(
    double Beta1 = 0.9, double Beta2 = 0.95, double Eps = 1e-8, double WeightDecay = 0.1);

/// <summary>
/// AdamW (decoupled weight decay, as torch.optim.AdamW) over a fixed set of named parameters. Each
/// owner of parameters (the trunk, one expert) keeps its own instance, so the optimizer state lives where
/// the weights live; the arithmetic is element-wise, so splitting it changes no result. Matrices decay,
/// vectors (biases, norms) do not. The gradient is multiplied by <c>gradScale</c> first, which is how the
/// global-norm clipping computed elsewhere reaches every owner.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(string Name, Tensor Param, Tensor ExpAvg, Tensor ExpAvgSq)> state = new();
    private readonly AdamWOptions options;

    public AdamW(IEnumerable<(string Name, Tensor Param)> parameters, AdamWOptions options)
    {
        this.options = options;
        foreach (var (name, p) in parameters)
            state.Add((name, p, zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope()));
    }

    public long Steps { get; private set; }

    public IEnumerable<Tensor> Parameters => state.Select(s => s.Param);

    /// <summary>Sum of squared gradient entries over this optimizer's parameters (0 where no gradient).</summary>
    public double SquaredGradNorm()
    {
        using var _ = NewDisposeScope();
        double total = 0;
        foreach (var (_, p, _, _) in state)
        {
            var g = p.grad;
            if (g is not null) total += g.to(ScalarType.Float64).square().sum().item<double>();
        }
        return total;
    }

    public void Step(double lr, double gradScale = 1.0)
    {
        Steps++;
        double bc1 = 1 - Math.Pow(options.Beta1, Steps);
        double bc2 = 1 - Math.Pow(options.Beta2, Steps);

        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (_, p, m, v) in state)
        {
            var g = p.grad;
            if (g is null) continue;
            if (gradScale != 1.0) g = g * gradScale;

            m.mul_(options.Beta1).add_(g, alpha: 1 - options.Beta1);
            v.mul_(options.Beta2).addcmul_(g, g, value: 1 - options.Beta2);
            if (p.dim() >= 2 && options.WeightDecay > 0) p.mul_(1 - lr * options.WeightDecay);
            var denom = (v.sqrt() / Math.Sqrt(bc2)).add_(options.Eps);
            p.addcdiv_(m, denom, value: -lr / bc1);
        }
    }

    public void ZeroGrad()
    {
        // Each read of .grad makes a new tensor handle; the scope releases them even when no caller has one open.
        using var scope = NewDisposeScope();
        foreach (var (_, p, _, _) in state) p.grad?.zero_();
    }

    /// <summary>Optimizer state by name: {name}.exp_avg, {name}.exp_avg_sq, and "step" as a scalar tensor.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, _, m, v) in state)
        {
            dict[$"{name}.exp_avg"] = m;
            dict[$"{name}.exp_avg_sq"] = v;
        }
        dict["step"] = tensor(new long[] { Steps });
        return dict;
    }

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> dict)
    {
        using var _ = no_grad();
        foreach (var (name, _, m, v) in state)
        {
            if (!dict.TryGetValue($"{name}.exp_avg", out var em)
                || !dict.TryGetValue($"{name}.exp_avg_sq", out var ev))
                throw new ArgumentException($"optimizer state lacks '{name}'");
            m.copy_(em);
            v.copy_(ev);
        }
        Steps = dict.TryGetValue("step", out var s) ? s.item<long>() : 0;
    }

    public void Dispose()
    {
        foreach (var (_, _, m, v) in state)
        {
            m.Dispose();
            v.Dispose();
        }
        state.Clear();
    }
}
