namespace LifelongMoE.Model.Data;

/// <summary>How a <see cref="TokenStream"/> packs, shuffles and batches.</summary>
/// <param name="SequenceLength">Input tokens per row; each row holds one more token for the targets.</param>
/// <param name="ShuffleBlock">Sequences shuffled together; 1 keeps corpus order.</param>
public sealed record TokenStreamOptions(int BatchSize, int SequenceLength, int ShuffleBlock, int Seed)
{
    public int BatchSize { get; init; } = BatchSize >= 1
        ? BatchSize
        : throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "must be at least 1");

    public int SequenceLength { get; init; } = SequenceLength >= 1
        ? SequenceLength
        : throw new ArgumentOutOfRangeException(nameof(SequenceLength), SequenceLength, "must be at least 1");

    public int ShuffleBlock { get; init; } = ShuffleBlock >= 1
        ? ShuffleBlock
        : throw new ArgumentOutOfRangeException(nameof(ShuffleBlock), ShuffleBlock, "must be at least 1");
}
