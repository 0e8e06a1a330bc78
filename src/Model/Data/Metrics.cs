namespace LifelongMoE.Model.Data;

/// <summary>Measures that make losses comparable across tokenizers.</summary>
public static class Metrics
{
    /// <summary>
    /// Converts a mean loss in nats per token to bits per byte of text: the total loss over
    /// <paramref name="tokens"/> tokens, in bits, spread over the <paramref name="bytes"/> they cover.
    /// </summary>
    public static double BitsPerByte(double meanLossNatsPerToken, long tokens, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1);

        return meanLossNatsPerToken * tokens / (bytes * Math.Log(2));
    }
}
