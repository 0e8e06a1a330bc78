using System.Text.Json;
using LifelongMoE.Model.Network;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Checkpoints;

/// <summary>
/// The trunk file on its own, for owners of the trunk whose experts live elsewhere (the gating actor): the
/// experts write their own files into the same checkpoint directory.
/// </summary>
public static class TrunkCheckpoint
{
    public static void Save(string path, MoeTransformer model) =>
        SafeTensors.Save(path, model.TrunkStateDict(), new Dictionary<string, string>
        {
            ["config"] = JsonSerializer.Serialize(model.Config),
            ["experts_per_phase"] = string.Join(",", model.ExpertsPerPhase()),
        });

    /// <summary>Loads trunk tensors into a model of the same layout; names the file and tensor on mismatch.</summary>
    public static void LoadInto(string dir, MoeTransformer model)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var path = Path.Combine(dir, ModelCheckpoint.TrunkFile);
        var trunk = SafeTensors.Load(path);
        foreach (var (name, p) in model.TrunkStateDict())
        {
            if (!trunk.TryGetValue(name, out var t))
                throw new CheckpointException(path, $"lacks tensor '{name}'");
            if (!t.shape.SequenceEqual(p.shape))
                throw new CheckpointException(path, $"tensor '{name}' has shape [{string.Join(",", t.shape)}], " +
                    $"the model has [{string.Join(",", p.shape)}]");
            p.copy_(t);
        }
    }
}
