using LifelongMoE.Model.Training;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Training;

/// <summary>Global-norm clipping: the scale factor, and the squared norm each optimizer reports.</summary>
public class GradientClippingTests
{
    [Fact]
    public void A_norm_above_the_limit_is_scaled_down_to_it()
    {
        // Squared norms 9 + 16 from two owners: global norm 5, limit 1.
        Assert.Equal(1 / (5 + 1e-6), GradientClipping.Scale(9 + 16, 1.0), 12);
        Assert.Equal(2 / (5 + 1e-6), GradientClipping.Scale(25, 2.0), 12);
    }

    [Fact]
    public void A_norm_below_the_limit_or_a_zero_limit_leaves_gradients_alone()
    {
        Assert.Equal(1.0, GradientClipping.Scale(25, 10.0));
        Assert.Equal(1.0, GradientClipping.Scale(25, 0));
        Assert.Equal(1.0, GradientClipping.Scale(0, 1.0));
    }

    [Fact]
    public void Squared_grad_norm_sums_every_gradient_entry_squared()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new[] { 1f, 2f, 3f, 4f }, new long[] { 2, 2 }).requires_grad_();
        var b = tensor(new[] { 1f, -1f }).requires_grad_();
        var unused = zeros(3).requires_grad_();
        // d/da sum(a * a) = 2a; d/db sum(3b) = 3.
        ((a * a).sum() + (3 * b).sum()).backward();
        using var adam = new AdamW(new[] { ("a", a), ("b", b), ("unused", unused) }, new AdamWOptions());

        double expected = 4 * (1 + 4 + 9 + 16) + 9 + 9;
        Assert.Equal(expected, adam.SquaredGradNorm(), 9);
    }
}
