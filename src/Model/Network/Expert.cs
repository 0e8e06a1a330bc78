using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>
/// One expert: a two-layer feed-forward network d_model -> d_ff -> d_model with GELU. It is the unit of
/// ownership of the system: it can be created, saved, loaded, moved and trained on its own.
/// </summary>
public sealed class Expert : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public Expert(int dModel, int dFf, Device? device = null, ScalarType dtype = ScalarType.Float32) : base("Expert")
    {
        fc1 = nn.Linear(dModel, dFf, hasBias: true, device: device, dtype: dtype);
        fc2 = nn.Linear(dFf, dModel, hasBias: true, device: device, dtype: dtype);
        register_module("fc1", fc1);
        register_module("fc2", fc2);
        ModuleOwnership.KeepOutOfDisposeScopes(this);
    }

    public int DModel => (int)fc1.in_features;

    public int DFf => (int)fc1.out_features;

    /// <param name="x">(tokens, d_model)</param>
    public override Tensor forward(Tensor x) => fc2.forward(nn.functional.gelu(fc1.forward(x)));

    public bool Frozen => !fc1.weight!.requires_grad;

    public void SetFrozen(bool frozen)
    {
        foreach (var p in parameters()) p.requires_grad = !frozen;
    }

    /// <summary>A deep copy with the same weights, on the same device.</summary>
    public Expert Clone()
    {
        var copy = new Expert(DModel, DFf, fc1.weight!.device, fc1.weight!.dtype);
        copy.LoadWeights(StateDict());
        copy.SetFrozen(Frozen);
        return copy;
    }

    /// <summary>Tensors by PyTorch-style name: fc1.weight, fc1.bias, fc2.weight, fc2.bias.</summary>
    public Dictionary<string, Tensor> StateDict() =>
        named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    public void LoadWeights(IReadOnlyDictionary<string, Tensor> weights)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (!weights.TryGetValue(name, out var w))
                throw new ArgumentException($"expert weights lack tensor '{name}'");
            if (!w.shape.SequenceEqual(p.shape))
                throw new ArgumentException($"expert tensor '{name}' has shape [{string.Join(",", w.shape)}], " +
                    $"expected [{string.Join(",", p.shape)}]");
            p.copy_(w);
        }
    }
}
