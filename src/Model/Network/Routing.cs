using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>The tokens one expert receives in one MoE layer, with the gate weight of each.</summary>
/// <param name="TokenIndex">(tokens_for_expert) rows of the flattened (tokens, d_model) input</param>
/// <param name="Gate">(tokens_for_expert) renormalised gate of this expert for each of those tokens</param>
public sealed record ExpertGroup(int Expert, Tensor TokenIndex, Tensor Gate);

/// <summary>
/// Top-k routing of a flattened batch of tokens: which experts each token goes to, with what gate,
/// which assignments the capacity limit dropped, and the auxiliary losses.
/// </summary>
public sealed class Routing
{
    /// <summary>(tokens, experts) softmax of the router logits.</summary>
    public required Tensor Probs { get; init; }

    /// <summary>(tokens, top_k) chosen experts, best first.</summary>
    public required Tensor TopIndex { get; init; }

    /// <summary>(tokens, top_k) gates renormalised over the chosen experts.</summary>
    public required Tensor Gates { get; init; }

    /// <summary>(tokens, top_k) false where the capacity limit dropped the assignment.</summary>
    public required Tensor Keep { get; init; }

    public required Tensor BalanceLoss { get; init; }

    public required Tensor ZLoss { get; init; }

    public required long Dropped { get; init; }

    /// <summary>Kept assignments per expert.</summary>
    public required long[] Load { get; init; }

    public required IReadOnlyList<ExpertGroup> Groups { get; init; }

    /// <summary>Capacity per expert, or -1 in dropless mode.</summary>
    public required long Capacity { get; init; }

    /// <summary>
    /// Routes tokens given router logits. Capacity is assigned slot by slot (every token's first choice
    /// before any second choice) and in token order within a slot, as in GShard.
    /// The load-balancing loss is experts * sum_e f_e * P_e with f_e the share of all top-k assignments
    /// that chose e and P_e the mean router probability of e (Switch Transformer, extended to top-k).
    /// </summary>
    /// <param name="logits">(tokens, experts)</param>
    public static Routing Route(Tensor logits, int topK, double capacityFactor)
    {
        long n = logits.shape[0];
        int e = (int)logits.shape[1];
        int k = Math.Min(topK, e);

        var probs = nn.functional.softmax(logits, -1);                    // (tokens, experts)
        var (topVal, topIdx) = probs.topk(k, dim: -1);                    // (tokens, k)
        var gates = topVal / topVal.sum(-1, keepdim: true);

        long capacity = capacityFactor > 0 ? ExpertCapacity(capacityFactor, n, k, e) : -1;
        var keep = KeepMask(topIdx, e, capacity);

        Tensor balance, zLoss;
        using (var scope = NewDisposeScope())
        {
            var chosen = nn.functional.one_hot(topIdx, e).to(probs.dtype).sum(new long[] { 0, 1 }) / (n * k);
            balance = (e * (chosen * probs.mean(new long[] { 0 })).sum()).MoveToOuterDisposeScope();
            zLoss = logits.logsumexp(-1).square().mean().MoveToOuterDisposeScope();
        }

        var load = new long[e];
        var hitsByExpert = new List<(int Expert, Tensor Tokens, Tensor Slots)>();
        using (no_grad())
        {
            var keptIdx = topIdx.masked_fill(keep.logical_not(), -1);
            for (int x = 0; x < e; x++)
            {
                var hits = keptIdx.eq(x).nonzero();                              // (m, 2): token, slot
                if (hits.shape[0] == 0) continue;
                load[x] = hits.shape[0];
                hitsByExpert.Add((x, hits.select(1, 0).contiguous(), hits.select(1, 1).contiguous()));
            }
        }

        // Gates are gathered outside no_grad so they stay differentiable with respect to the router.
        var groups = hitsByExpert
            .Select(h => new ExpertGroup(h.Expert, h.Tokens,
                gates.index_select(0, h.Tokens).gather(1, h.Slots.unsqueeze(1)).squeeze(1)))
            .ToList();

        return new Routing
        {
            Probs = probs, TopIndex = topIdx, Gates = gates, Keep = keep, BalanceLoss = balance, ZLoss = zLoss,
            Dropped = n * k - load.Sum(), Load = load, Groups = groups, Capacity = capacity,
        };
    }

    /// <summary>ceil(factor * tokens * top_k / experts), the most assignments one expert takes.</summary>
    public static long ExpertCapacity(double capacityFactor, long tokens, int topK, int experts)
    {
        // In decimal, because binary rounding puts e.g. 1.1 * 25 * 2 / 5 just above 11, and the ceiling
        // would then grant every expert one slot more than the factor allows.
        decimal exact = (decimal)capacityFactor * tokens * topK / experts;
        return Math.Max(1, (long)Math.Ceiling(exact));
    }

    private static Tensor KeepMask(Tensor topIdx, int experts, long capacity)
    {
        if (capacity < 0)
            return ones_like(topIdx, dtype: ScalarType.Bool);

        using var scope = NewDisposeScope();
        int k = (int)topIdx.shape[1];
        var filled = zeros(experts, dtype: ScalarType.Int64, device: topIdx.device);
        var columns = new List<Tensor>();
        for (int slot = 0; slot < k; slot++)
        {
            var onehot = nn.functional.one_hot(topIdx.select(1, slot), experts);            // (tokens, experts)
            var position = (onehot.cumsum(dim: 0) - 1 + filled.unsqueeze(0)) * onehot;
            columns.Add(position.sum(1).lt(capacity));
            // dim: must be named: a bare 0 converts to ScalarType and sum(0) would total the whole tensor.
            filled = filled + onehot.sum(dim: 0);
        }
        return stack(columns, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Sums gate-weighted expert outputs back into token order.</summary>
    /// <param name="outputs">one (tokens_for_expert, d_model) tensor per group, in group order</param>
    public static Tensor Combine(long tokens, long dModel, IReadOnlyList<ExpertGroup> groups,
        IReadOnlyList<Tensor> outputs, ScalarType dtype, Device device)
    {
        var combined = zeros(new[] { tokens, dModel }, dtype: dtype, device: device);
        for (int i = 0; i < groups.Count; i++)
            combined = combined.index_add(0, groups[i].TokenIndex, outputs[i] * groups[i].Gate.unsqueeze(1), 1);
        return combined;                                                                  // (tokens, d_model)
    }
}
