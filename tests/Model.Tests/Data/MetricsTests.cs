using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class MetricsTests
{
    [Fact]
    public void Bits_per_byte_matches_a_hand_computed_case()
    {
        // 2 nats/token over 100 tokens = 200 nats = 200 / ln 2 = 288.539 bits, over 400 bytes.
        Assert.Equal(0.7213475204, Metrics.BitsPerByte(2.0, 100, 400), 9);

        // ln 2 nats per byte-token is exactly one bit per byte.
        Assert.Equal(1.0, Metrics.BitsPerByte(Math.Log(2), 1000, 1000), 12);
    }

    [Fact]
    public void Bits_per_byte_refuses_zero_bytes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.BitsPerByte(1.0, 10, 0));
    }
}
