namespace LifelongMoE.Model.Data;

/// <summary>
/// Which documents are kept for evaluation only: the one with 0-based index i is held out when
/// i % Every == Offset. Held-out documents never reach training.
/// </summary>
public sealed record HoldoutRule(int Every, int Offset)
{
    public static HoldoutRule Default { get; } = new(20, 19);

    public int Every { get; init; } = Every >= 1
        ? Every
        : throw new ArgumentOutOfRangeException(nameof(Every), Every, "must be at least 1");

    public int Offset { get; init; } = Offset >= 0 && Offset < Every
        ? Offset
        : throw new ArgumentOutOfRangeException(nameof(Offset), Offset, $"must be in [0, {Every})");

    public bool IsHeldOut(int documentIndex) => documentIndex % Every == Offset;
}
