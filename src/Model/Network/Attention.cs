using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>Multi-head causal self-attention with a fused qkv projection.</summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_attn;
    private readonly Linear c_proj;
    private readonly int heads;

    public CausalSelfAttention(int dModel, int heads) : base("CausalSelfAttention")
    {
        this.heads = heads;
        c_attn = nn.Linear(dModel, 3 * dModel);
        c_proj = nn.Linear(dModel, dModel);
        register_module("c_attn", c_attn);
        register_module("c_proj", c_proj);
    }

    /// <param name="x">(batch, tokens, d_model)</param>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2], hd = d / heads;

        var qkv = c_attn.forward(x).split(d, dim: 2);
        // (batch, heads, tokens, head_dim)
        var q = qkv[0].view(b, t, heads, hd).transpose(1, 2);
        var k = qkv[1].view(b, t, heads, hd).transpose(1, 2);
        var v = qkv[2].view(b, t, heads, hd).transpose(1, 2);

        var scores = matmul(q, k.transpose(-2, -1)) / Math.Sqrt(hd);        // (batch, heads, tokens, tokens)
        var future = ones(t, t, dtype: ScalarType.Bool, device: x.device).triu(1);
        scores = scores.masked_fill(future, double.NegativeInfinity);
        var y = matmul(nn.functional.softmax(scores, -1), v);              // (batch, heads, tokens, head_dim)
        y = y.transpose(1, 2).contiguous().view(b, t, d);
        return c_proj.forward(y).MoveToOuterDisposeScope();
    }
}

/// <summary>The dense feed-forward layer of blocks that have no MoE layer.</summary>
public sealed class DenseMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_fc;
    private readonly Linear c_proj;

    public DenseMlp(int dModel, int dFf) : base("DenseMlp")
    {
        c_fc = nn.Linear(dModel, dFf);
        c_proj = nn.Linear(dFf, dModel);
        register_module("c_fc", c_fc);
        register_module("c_proj", c_proj);
    }

    public override Tensor forward(Tensor x) => c_proj.forward(nn.functional.gelu(c_fc.forward(x)));
}
