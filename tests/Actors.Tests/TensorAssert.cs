using static TorchSharp.torch;

namespace LifelongMoE.Actors.Tests;

/// <summary>Tensor comparisons for specs: bitwise, or within a tolerance, with messages that say where.</summary>
public static class TensorAssert
{
    public static void Bitwise(Tensor expected, Tensor actual, string what = "tensor")
    {
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}");
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        using var e = expected.detach().cpu().contiguous();
        using var a = actual.detach().cpu().contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), $"{what}: bytes differ");
    }

    public static void Bitwise(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, t) in expected) Bitwise(t, actual[name], name);
    }

    public static void Close(Tensor expected, Tensor actual, double atol, string what = "tensor")
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        double worst = (expected.detach().cpu().to(ScalarType.Float64) - actual.detach().cpu().to(ScalarType.Float64))
            .abs().max().item<double>();
        Assert.True(worst <= atol, $"{what}: largest difference {worst:E3} exceeds {atol:E1}");
    }
}
