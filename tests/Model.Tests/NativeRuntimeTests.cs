using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests;

public class NativeRuntimeTests
{
    [Fact]
    public void TorchSharp_loads_and_multiplies_matrices()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(7);
        var a = randn(new long[] { 64, 32 }, dtype: float64, generator: gen);
        var b = randn(new long[] { 32, 16 }, dtype: float64, generator: gen);

        var product = matmul(a, b);

        // Compare against a hand-rolled triple loop on the same numbers.
        var av = a.data<double>().ToArray();
        var bv = b.data<double>().ToArray();
        double expected = 0;
        for (int k = 0; k < 32; k++) expected += av[5 * 32 + k] * bv[k * 16 + 3];
        Assert.Equal(expected, product[5, 3].item<double>(), 10);
    }
}
