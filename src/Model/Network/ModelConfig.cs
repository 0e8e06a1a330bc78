namespace LifelongMoE.Model.Network;

/// <summary>
/// Sizes and routing settings of the network. Names follow the usual PyTorch/GPT conventions.
/// </summary>
/// <param name="MoeEvery">
/// Every <c>MoeEvery</c>-th block (1-based) has an MoE feed-forward layer; 0 means none.
/// </param>
/// <param name="CapacityFactor">
/// Expert capacity = ceil(factor * tokens * top_k / experts); 0 or less is dropless.
/// </param>
public sealed record ModelConfig(
    int VocabSize = 256,
    int ContextLength = 128,
    int DModel = 128,
    int NumHeads = 4,
    int NumLayers = 4,
    int DFf = 256,
    int MoeEvery = 2,
    int InitialExperts = 4,
    int TopK = 2,
    double CapacityFactor = 0,
    double LoadBalanceCoef = 0.01,
    double RouterZLossCoef = 0.001)
{
    public bool IsMoeBlock(int block) => MoeEvery > 0 && (block + 1) % MoeEvery == 0;

    public int MoeLayerCount => Enumerable.Range(0, NumLayers).Count(IsMoeBlock);

    public void Validate()
    {
        void Require(bool ok, string key, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"model.{key} = {value}: {rule}");
        }

        Require(VocabSize > 0, "vocab-size", VocabSize, "must be positive");
        Require(ContextLength > 0, "context-length", ContextLength, "must be positive");
        Require(NumHeads > 0, "n-heads", NumHeads, "must be positive");
        Require(DModel > 0 && DModel % NumHeads == 0, "d-model", DModel,
            $"must be a positive multiple of n-heads ({NumHeads})");
        Require(NumLayers > 0, "n-layers", NumLayers, "must be positive");
        Require(DFf > 0, "d-ff", DFf, "must be positive");
        Require(InitialExperts >= 1, "experts", InitialExperts, "must be at least 1");
        Require(TopK >= 1 && TopK <= InitialExperts, "top-k", TopK,
            $"must be between 1 and experts ({InitialExperts})");
        Require(MoeEvery >= 0, "moe-every", MoeEvery, "must be 0 or more");
    }
}
