using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests;

/// <summary>
/// Tests that touch torch's global random generator or time themselves share this collection, so xunit runs
/// them one after another: a parallel test drawing from the generator would break a seeded run.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SerialTorchCollection
{
    public const string Name = "serial torch";
}

/// <summary>Small models and data for the model-core tests.</summary>
public static class TinyModels
{
    /// <summary>Two blocks, the second with 4 experts, top-2, dropless; a forward pass takes milliseconds.</summary>
    public static ModelConfig Config(int vocab = 32, int context = 16, int dModel = 16, int layers = 2,
        int dFf = 32, int experts = 4, int topK = 2, int moeEvery = 2, double capacityFactor = 0) =>
        new(VocabSize: vocab, ContextLength: context, DModel: dModel, NumHeads: 2, NumLayers: layers, DFf: dFf,
            MoeEvery: moeEvery, InitialExperts: experts, TopK: topK, CapacityFactor: capacityFactor);

    public static MoeTransformer Model(ModelConfig config, long seed)
    {
        manual_seed(seed);
        return new MoeTransformer(config);
    }

    /// <summary>Row-major (batch, tokens + 1) random token ids, as InProcessTrainer.Step takes them.</summary>
    public static long[] Tokens(int batch, int tokens, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch * (tokens + 1)).Select(_ => (long)random.Next(vocab)).ToArray();
    }

    /// <summary>
    /// A batch the model can learn from: each row counts up from a random start, modulo the vocabulary.
    /// Random tokens would leave nothing to learn and the gradients would stay noise.
    /// </summary>
    public static long[] CountingTokens(int batch, int tokens, int vocab, int seed)
    {
        var random = new Random(seed);
        var rows = new List<long>();
        for (int b = 0; b < batch; b++)
        {
            int start = random.Next(vocab);
            for (int t = 0; t <= tokens; t++) rows.Add((start + t) % vocab);
        }
        return rows.ToArray();
    }

    /// <summary>The raw bytes of every named parameter, to compare bit for bit later.</summary>
    public static Dictionary<string, byte[]> Snapshot(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => Bytes(p.parameter));

    /// <summary>
    /// Bit-for-bit equality of dtype, shape and data (what torch.equal means; TorchSharp's <c>equal</c> is
    /// element-wise and returns a tensor).
    /// </summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && Bytes(a).AsSpan().SequenceEqual(Bytes(b));

    public static byte[] Bytes(Tensor t)
    {
        using var cpu = t.detach().cpu().contiguous();
        return cpu.bytes.ToArray();
    }
}
