using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>
/// The router of one MoE layer: one bias-free linear block per phase, [d_model x experts_added_in_phase].
/// Its logits are the concatenation of the blocks, so freezing a phase's columns is freezing one block.
/// </summary>
public sealed class Router : nn.Module
{
    private readonly ModuleList<Linear> blocks = new();
    private readonly int dModel;

    public Router(int dModel, int experts) : base("Router")
    {
        this.dModel = dModel;
        register_module("blocks", blocks);
        AddBlock(experts);
    }

    public int Phases => blocks.Count;

    public int ExpertCount(int phases) => blocks.Take(phases).Sum(b => (int)b.out_features);

    public Linear Block(int phase) => blocks[phase];

    public Linear AddBlock(int experts)
    {
        var reference = blocks.Count > 0 ? blocks[0].weight! : null;
        var block = nn.Linear(dModel, experts, hasBias: false,
            device: reference?.device, dtype: reference?.dtype ?? ScalarType.Float32);
        ModuleOwnership.KeepOutOfDisposeScopes(block);
        blocks.AddRegistered(block);
        return block;
    }

    /// <param name="x">(tokens, d_model)</param>
    /// <returns>(tokens, experts in the first <paramref name="phases"/> blocks)</returns>
    public Tensor Logits(Tensor x, int phases)
    {
        if (phases == 1) return blocks[0].forward(x);
        return cat(blocks.Take(phases).Select(b => b.forward(x)).ToList(), 1);
    }
}
