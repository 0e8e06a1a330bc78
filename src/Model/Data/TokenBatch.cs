namespace LifelongMoE.Model.Data;

/// <summary>
/// A batch of token sequences, row-major (BatchSize, SequenceLength + 1): the inputs of row r
/// are its first SequenceLength tokens and the targets are the same row shifted by one.
/// </summary>
public sealed record TokenBatch(long[] Tokens, int BatchSize, int SequenceLength)
{
    /// <summary>Tokens per row: SequenceLength + 1.</summary>
    public int Width => SequenceLength + 1;

    public ReadOnlySpan<long> Row(int row) => Tokens.AsSpan(row * Width, Width);
}
