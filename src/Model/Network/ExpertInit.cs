using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>Initial weights of an expert added at a distribution shift.</summary>
public static class ExpertInit
{
    /// <summary>
    /// New weights shaped like <paramref name="source"/>: a copy plus N(0, noise_std) noise, or N(0, 0.02) matrices
    /// with zero biases. Tensors are visited in name order, so the generator's draws are reproducible wherever
    /// this runs (in-process or on the node that owns the source expert).
    /// </summary>
    public static Dictionary<string, Tensor> Create(IReadOnlyDictionary<string, Tensor> source, ExpansionInit init,
        double noiseStd, Generator generator)
    {
        var result = new Dictionary<string, Tensor>();
        using var _ = no_grad();
        foreach (var name in source.Keys.Order(StringComparer.Ordinal))
        {
            // The scope takes the noise and intermediates; only the result leaves it.
            using var scope = NewDisposeScope();
            var s = source[name];
            var noise = randn(s.shape, dtype: s.dtype, generator: generator).to(s.device);
            Tensor w = init switch
            {
                ExpansionInit.Copy => s.detach() + noiseStd * noise,
                _ when s.dim() >= 2 => noise * 0.02,
                _ => zeros_like(s),
            };
            result[name] = w.DetachFromDisposeScope();
        }
        return result;
    }
}
