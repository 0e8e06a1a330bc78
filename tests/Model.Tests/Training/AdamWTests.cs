using LifelongMoE.Model.Training;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Training;

/// <summary>Two AdamW steps against the update rule worked out in doubles.</summary>
public class AdamWTests
{
    private static readonly AdamWOptions Options = new(Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1);

    [Fact]
    public void Two_steps_follow_the_adamw_rule_with_decay_on_matrices_only()
    {
        using var scope = NewDisposeScope();
        var w0 = new[] { 0.5, -1.0, 2.0, 0.25 };
        var b0 = new[] { 0.3, -0.7 };
        var w = tensor(w0, new long[] { 2, 2 }, dtype: float64).requires_grad_();
        var b = tensor(b0, dtype: float64).requires_grad_();
        using var adam = new AdamW(new[] { ("w", w), ("b", b) }, Options);
        var grads = new[]
        {
            (W: new[] { 0.1, -0.2, 0.3, 0.0 }, B: new[] { 1.0, -0.5 }),
            (W: new[] { -0.4, 0.05, 0.3, 2.0 }, B: new[] { 0.2, 0.1 }),
        };
        var lrs = new[] { 1e-2, 5e-3 };

        var expectedW = (double[])w0.Clone();
        var expectedB = (double[])b0.Clone();
        var mW = new double[4]; var vW = new double[4]; var mB = new double[2]; var vB = new double[2];
        for (int step = 0; step < 2; step++)
        {
            SetGrad(w, grads[step].W);
            SetGrad(b, grads[step].B);
            adam.Step(lrs[step]);
            adam.ZeroGrad();

            Reference(expectedW, mW, vW, grads[step].W, lrs[step], step + 1, decay: true);
            Reference(expectedB, mB, vB, grads[step].B, lrs[step], step + 1, decay: false);
            Assert.Equal(expectedW, w.data<double>().ToArray(), new Close(1e-12));
            Assert.Equal(expectedB, b.data<double>().ToArray(), new Close(1e-12));
        }
        Assert.Equal(2, adam.Steps);
    }

    [Fact]
    public void The_grad_scale_multiplies_the_gradient_before_the_moments()
    {
        using var scope = NewDisposeScope();
        var scaled = tensor(new[] { 1.0, 2.0 }, dtype: float64).requires_grad_();
        var reference = tensor(new[] { 1.0, 2.0 }, dtype: float64).requires_grad_();
        using var a = new AdamW(new[] { ("p", scaled) }, Options);
        using var r = new AdamW(new[] { ("p", reference) }, Options);

        for (int step = 0; step < 3; step++)
        {
            var g = new[] { 0.3 * (step + 1), -0.1 };
            SetGrad(scaled, g);
            SetGrad(reference, g.Select(v => v * 0.25).ToArray());
            a.Step(1e-2, gradScale: 0.25);
            r.Step(1e-2);
        }

        Assert.Equal(reference.data<double>().ToArray(), scaled.data<double>().ToArray(), new Close(1e-15));
    }

    [Fact]
    public void Parameters_without_a_gradient_are_left_untouched_even_by_decay()
    {
        using var scope = NewDisposeScope();
        var p = tensor(new[] { 1.0, 2.0, 3.0, 4.0 }, new long[] { 2, 2 }, dtype: float64).requires_grad_();
        using var adam = new AdamW(new[] { ("p", p) }, Options);

        adam.Step(0.1);

        Assert.Equal(new[] { 1.0, 2.0, 3.0, 4.0 }, p.data<double>().ToArray());
    }

    private static void SetGrad(Tensor p, double[] values)
    {
        p.grad?.zero_();
        // sum(p * g) has gradient g with respect to p.
        (p * tensor(values, p.shape, dtype: float64)).sum().backward();
    }

    // torch.optim.AdamW, written out: decoupled decay, then the bias-corrected Adam step.
    private static void Reference(double[] p, double[] m, double[] v, double[] g, double lr, int t, bool decay)
    {
        const double b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            if (decay) p[i] *= 1 - lr * wd;
            double mHat = m[i] / (1 - Math.Pow(b1, t));
            double vHat = v[i] / (1 - Math.Pow(b2, t));
            p[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
        }
    }

    private sealed class Close(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
