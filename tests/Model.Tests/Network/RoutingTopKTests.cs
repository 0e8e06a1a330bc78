using LifelongMoE.Model.Network;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Network;

/// <summary>Top-k selection and gate renormalisation on logits whose softmax is computed by hand.</summary>
public class RoutingTopKTests
{
    // 3 tokens x 4 experts. Preferences: token 0 -> 0 then 1; token 1 -> 2 then 1; token 2 -> 1 then 3.
    private static readonly double[][] Logits =
    {
        new[] { 2.0, 1.0, 0.5, -1.0 },
        new[] { 0.1, 0.3, 3.0, 0.2 },
        new[] { -0.5, 1.5, 0.0, 1.0 },
    };

    internal static Tensor LogitTensor(double[][] rows) =>
        tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray(), new long[] { rows.Length, rows[0].Length });

    internal static double[] Softmax(double[] row)
    {
        double max = row.Max();
        var exp = row.Select(v => Math.Exp(v - max)).ToArray();
        double sum = exp.Sum();
        return exp.Select(v => v / sum).ToArray();
    }

    [Fact]
    public void Probs_are_the_softmax_of_the_logits()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(LogitTensor(Logits), topK: 2, capacityFactor: 0);

        var probs = routing.Probs.data<float>().ToArray();
        for (int t = 0; t < 3; t++)
        {
            var expected = Softmax(Logits[t]);
            for (int e = 0; e < 4; e++) Assert.Equal(expected[e], probs[t * 4 + e], 6);
        }
    }

    [Fact]
    public void Top_2_picks_the_two_largest_best_first_and_renormalises_their_gates()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(LogitTensor(Logits), topK: 2, capacityFactor: 0);

        Assert.Equal(new long[] { 0, 1, 2, 1, 1, 3 }, routing.TopIndex.data<long>().ToArray());
        var gates = routing.Gates.data<float>().ToArray();
        var chosen = new[] { (0, 1), (2, 1), (1, 3) };
        for (int t = 0; t < 3; t++)
        {
            var p = Softmax(Logits[t]);
            var (a, b) = chosen[t];
            Assert.Equal(p[a] / (p[a] + p[b]), gates[t * 2], 6);
            Assert.Equal(p[b] / (p[a] + p[b]), gates[t * 2 + 1], 6);
        }
    }

    [Fact]
    public void Top_2_groups_list_each_experts_tokens_in_token_order_with_their_gates()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(LogitTensor(Logits), topK: 2, capacityFactor: 0);
        var p = Logits.Select(Softmax).ToArray();
        double Gate(int token, int chosen, int other) => p[token][chosen] / (p[token][chosen] + p[token][other]);

        var expected = new Dictionary<int, (long[] Tokens, double[] Gates)>
        {
            [0] = (new long[] { 0 }, new[] { Gate(0, 0, 1) }),
            [1] = (new long[] { 0, 1, 2 }, new[] { Gate(0, 1, 0), Gate(1, 1, 2), Gate(2, 1, 3) }),
            [2] = (new long[] { 1 }, new[] { Gate(1, 2, 1) }),
            [3] = (new long[] { 2 }, new[] { Gate(2, 3, 1) }),
        };
        AssertGroups(expected, routing);
        Assert.Equal(new long[] { 1, 3, 1, 1 }, routing.Load);
        Assert.Equal(0, routing.Dropped);
    }

    [Fact]
    public void Top_1_sends_each_token_to_its_best_expert_with_gate_one()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(LogitTensor(Logits), topK: 1, capacityFactor: 0);

        Assert.Equal(new long[] { 3, 1 }, routing.TopIndex.shape);
        Assert.Equal(new long[] { 0, 2, 1 }, routing.TopIndex.data<long>().ToArray());
        Assert.All(routing.Gates.data<float>().ToArray(), g => Assert.Equal(1.0, g, 6));
        var expected = new Dictionary<int, (long[] Tokens, double[] Gates)>
        {
            [0] = (new long[] { 0 }, new[] { 1.0 }),
            [1] = (new long[] { 2 }, new[] { 1.0 }),
            [2] = (new long[] { 1 }, new[] { 1.0 }),
        };
        AssertGroups(expected, routing);
        Assert.Equal(new long[] { 1, 1, 1, 0 }, routing.Load);
    }

    [Fact]
    public void Combine_sums_gate_weighted_expert_outputs_per_token()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(LogitTensor(Logits), topK: 2, capacityFactor: 0);
        // Expert e answers every token with the constant row (e + 1, 10 * (e + 1)).
        var outputs = routing.Groups
            .Select(g => full(new[] { g.TokenIndex.shape[0], 2L }, g.Expert + 1.0f) * tensor(new[] { 1f, 10f }))
            .ToList();

        var y = Routing.Combine(3, 2, routing.Groups, outputs, ScalarType.Float32, CPU).data<float>().ToArray();

        var gates = routing.Gates.data<float>().ToArray();
        var top = routing.TopIndex.data<long>().ToArray();
        for (int t = 0; t < 3; t++)
        {
            double expected = gates[2 * t] * (top[2 * t] + 1) + gates[2 * t + 1] * (top[2 * t + 1] + 1);
            Assert.Equal(expected, y[2 * t], 5);
            Assert.Equal(10 * expected, y[2 * t + 1], 4);
        }
    }

    internal static void AssertGroups(Dictionary<int, (long[] Tokens, double[] Gates)> expected, Routing routing)
    {
        Assert.Equal(expected.Keys.Order(), routing.Groups.Select(g => g.Expert));
        foreach (var group in routing.Groups)
        {
            var (tokens, gates) = expected[group.Expert];
            Assert.Equal(tokens, group.TokenIndex.data<long>().ToArray());
            var actual = group.Gate.data<float>().ToArray();
            Assert.Equal(gates.Length, actual.Length);
            for (int i = 0; i < gates.Length; i++) Assert.Equal(gates[i], actual[i], 6);
        }
    }
}
