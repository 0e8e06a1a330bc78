using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>
/// A pre-norm transformer block. Its feed-forward layer is either dense or an MoE layer. A teacher's
/// block refers to its student's MoE layer without owning it: it is neither registered nor disposed here.
/// </summary>
public sealed class Block : nn.Module
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly DenseMlp? mlp;

    public Block(ModelConfig config, bool moe, MoeLayer? sharedMoe = null) : base("Block")
    {
        ln_1 = nn.LayerNorm(config.DModel);
        attn = new CausalSelfAttention(config.DModel, config.NumHeads);
        ln_2 = nn.LayerNorm(config.DModel);
        register_module("ln_1", ln_1);
        register_module("attn", attn);
        register_module("ln_2", ln_2);

        if (!moe)
        {
            mlp = new DenseMlp(config.DModel, config.DFf);
            register_module("mlp", mlp);
        }
        else if (sharedMoe is not null)
        {
            Moe = sharedMoe;
        }
        else
        {
            Moe = new MoeLayer(config.DModel, config.DFf, config.InitialExperts);
            register_module("moe", Moe);
        }
    }

    public MoeLayer? Moe { get; }

    // TorchSharp registers every Module-typed field it has not seen by reflection when a module is registered
    // with its parent. That would register Moe a second time under its backing field's name and, in a teacher,
    // make the teacher own (and dispose) its student's experts. Every component here is registered by hand.
    protected override void RegisterComponents() { }

    /// <summary>h + attn(ln_1(h)); (batch, tokens, d_model)</summary>
    public Tensor Attend(Tensor h) => h + attn.forward(ln_1.forward(h));

    /// <summary>The input of the feed-forward layer, ln_2(h); (batch, tokens, d_model)</summary>
    public Tensor FeedForwardInput(Tensor h) => ln_2.forward(h);

    /// <summary>The dense feed-forward layer; only for blocks without an MoE layer.</summary>
    public Tensor Dense(Tensor x) => mlp!.forward(x);
}
