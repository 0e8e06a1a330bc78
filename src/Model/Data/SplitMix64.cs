namespace LifelongMoE.Model.Data;

/// <summary>
/// A small deterministic generator (Steele, Lea and Flood's SplitMix64). Written out here so the
/// shuffle order, and with it every resumable data cursor, cannot change with the .NET version.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public static SplitMix64 For(int seed, int epoch, long block)
    {
        ulong state = Mix((uint)seed);
        state = Mix(state ^ (ulong)(uint)epoch);
        state = Mix(state ^ (ulong)block);
        return new SplitMix64(state);
    }

    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, bound) by rejection, without modulo bias.</summary>
    public int Next(int bound)
    {
        ulong limit = ulong.MaxValue - ulong.MaxValue % (ulong)bound;
        ulong value;
        do value = Next(); while (value >= limit);

        return (int)(value % (ulong)bound);
    }

    /// <summary>Fisher-Yates shuffle of <paramref name="items"/> in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
