using LifelongMoE.Model.Network;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Network;

/// <summary>The load-balancing loss and the router z-loss against hand computations.</summary>
public class AuxiliaryLossTests
{
    private static readonly double[][] Logits =
    {
        new[] { 2.0, 1.0, 0.5, -1.0 },
        new[] { 0.1, 0.3, 3.0, 0.2 },
        new[] { -0.5, 1.5, 0.0, 1.0 },
    };

    [Fact]
    public void Balance_loss_is_experts_times_sum_of_assignment_share_times_mean_prob()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(Logits), topK: 2, capacityFactor: 0);

        // Top-2 assignments: t0 -> 0, 1; t1 -> 2, 1; t2 -> 1, 3. Six in all.
        var share = new[] { 1 / 6.0, 3 / 6.0, 1 / 6.0, 1 / 6.0 };
        var probs = Logits.Select(RoutingTopKTests.Softmax).ToArray();
        double expected = 4 * Enumerable.Range(0, 4).Sum(e => share[e] * probs.Average(p => p[e]));

        Assert.Equal(expected, routing.BalanceLoss.item<float>(), 6);
    }

    [Fact]
    public void Balance_loss_is_one_for_perfectly_uniform_routing()
    {
        using var scope = NewDisposeScope();
        // Token i prefers expert i by the same margin: every expert gets one token and the same mean prob.
        var logits = Enumerable.Range(0, 4).Select(i => Enumerable.Range(0, 4).Select(e => e == i ? 2.0 : 0.0)
            .ToArray()).ToArray();
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(logits), topK: 1, capacityFactor: 0);

        Assert.Equal(1.0, routing.BalanceLoss.item<float>(), 6);
    }

    [Fact]
    public void Balance_loss_exceeds_one_when_every_token_picks_the_same_expert()
    {
        using var scope = NewDisposeScope();
        var logits = Enumerable.Repeat(new[] { 2.0, 0.0, 0.0, 0.0 }, 4).ToArray();
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(logits), topK: 1, capacityFactor: 0);

        // f = (1, 0, 0, 0), so the loss is 4 * P_0.
        double p0 = RoutingTopKTests.Softmax(logits[0])[0];
        Assert.Equal(4 * p0, routing.BalanceLoss.item<float>(), 5);
        Assert.True(routing.BalanceLoss.item<float>() > 1.5);
    }

    [Fact]
    public void Z_loss_is_the_mean_squared_logsumexp_of_the_logits()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(Logits), topK: 2, capacityFactor: 0);

        double expected = Logits.Average(row => Math.Pow(Math.Log(row.Sum(Math.Exp)), 2));
        Assert.Equal(expected, routing.ZLoss.item<float>(), 5);
    }
}
