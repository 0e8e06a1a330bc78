using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Network;

/// <summary>
/// Autograd gradients of an expert and of a whole MoE layer (router, gates, experts, auxiliary losses) against
/// central finite differences, in float64 so the differences are accurate to about 1e-10.
/// </summary>
[Collection(SerialTorchCollection.Name)]
public class GradientCheckTests
{
    private const double Eps = 1e-6;

    [Fact]
    public void Expert_gradients_match_finite_differences()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(3);
        using var expert = new Expert(6, 10).to(ScalarType.Float64);
        RandomiseParameters(expert, gen, 0.5);
        var x = randn(new long[] { 5, 6 }, dtype: float64, generator: gen);
        var w = randn(new long[] { 5, 6 }, dtype: float64, generator: gen);
        Tensor Loss() => (expert.forward(x) * w).sum();

        var weights = expert.StateDict();
        AssertGradientsMatch(Loss, new[]
        {
            (weights["fc1.weight"], new long[] { 0, 0 }), (weights["fc1.weight"], new long[] { 7, 4 }),
            (weights["fc1.bias"], new long[] { 3 }), (weights["fc2.weight"], new long[] { 2, 9 }),
            (weights["fc2.weight"], new long[] { 5, 1 }), (weights["fc2.bias"], new long[] { 4 }),
        });
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void Moe_layer_gradients_of_router_and_experts_match_finite_differences(double capacityFactor)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(5);
        using var layer = new MoeLayer(6, 10, 4);
        using var growth = new Generator(6);
        foreach (var weights in layer.AddExperts(2, ExpansionInit.Copy, RouterInit.Zero, 0.01, growth))
            foreach (var t in weights.Values) t.Dispose();
        layer.to(ScalarType.Float64);
        // Large router weights spread the logits, so no token sits near a tie of its k-th and (k+1)-th choice.
        RandomiseParameters(layer, gen, 1.0);
        var x = randn(new long[] { 8, 6 }, dtype: float64, generator: gen);
        var w = randn(new long[] { 8, 6 }, dtype: float64, generator: gen);

        Routing RouteOnly() => layer.Route(x, 2, 2, capacityFactor);
        Tensor Loss()
        {
            var (y, routing) = layer.Forward(x, phases: 2, topK: 2, capacityFactor);
            return (y * w).sum() + 0.3 * routing.BalanceLoss + 0.1 * routing.ZLoss;
        }

        using (no_grad())
        {
            var sorted = RouteOnly().Probs.sort(-1, descending: true).Values;
            // Both gaps matter: the set of two decides the experts, their order decides who fills capacity first.
            double margin = Math.Min((sorted[.., 0] - sorted[.., 1]).min().item<double>(),
                (sorted[.., 1] - sorted[.., 2]).min().item<double>());
            Assert.True(margin > 1e-3, $"a token is within {margin} of a top-2 tie; pick another seed");
        }
        // With 6 experts of capacity 2 for 16 assignments, the factor 0.5 must drop some: that path is covered too.
        Assert.Equal(capacityFactor > 0, RouteOnly().Dropped > 0);
        var busy = RouteOnly().Groups.OrderByDescending(g => g.TokenIndex.shape[0]).First().Expert;
        var expert = layer.Experts[busy].StateDict();
        var newBlock = layer.Router.Block(1).weight!;
        AssertGradientsMatch(Loss, new[]
        {
            (layer.Router.Block(0).weight!, new long[] { 0, 0 }), (layer.Router.Block(0).weight!, new long[] { 3, 5 }),
            (newBlock, new long[] { 1, 2 }),
            (expert["fc1.weight"], new long[] { 4, 3 }), (expert["fc1.bias"], new long[] { 9 }),
            (expert["fc2.weight"], new long[] { 1, 7 }), (expert["fc2.bias"], new long[] { 0 }),
        });
    }

    private static void RandomiseParameters(nn.Module module, Generator gen, double std)
    {
        using var _ = no_grad();
        foreach (var p in module.parameters())
            p.copy_(randn(p.shape, dtype: p.dtype, generator: gen) * std);
    }

    private static void AssertGradientsMatch(Func<Tensor> loss, IEnumerable<(Tensor Param, long[] At)> entries)
    {
        var list = entries.ToList();
        foreach (var (p, _) in list) p.grad?.zero_();
        loss().backward();

        foreach (var (p, at) in list)
        {
            var index = at.Select(i => TensorIndex.Single(i)).ToArray();
            double analytic = p.grad![index].item<double>();
            double numeric;
            using (no_grad())
            {
                var entry = p[index];
                double original = entry.item<double>();
                entry.fill_(original + Eps);
                double up = loss().item<double>();
                entry.fill_(original - Eps);
                double down = loss().item<double>();
                entry.fill_(original);
                numeric = (up - down) / (2 * Eps);
            }
            double tolerance = 1e-6 * Math.Max(Math.Abs(analytic), 1e-2);
            Assert.True(Math.Abs(analytic - numeric) <= tolerance,
                $"entry [{string.Join(",", at)}]: autograd {analytic:E10}, finite difference {numeric:E10}");
            Assert.NotEqual(0, analytic);
        }
    }
}
