namespace LifelongMoE.Model.Tests.Data;

/// <summary>Deterministic made-up documents of varied length for stream tests.</summary>
internal static class SyntheticText
{
    private static readonly string[] Words =
    [
        "the", "expert", "router", "gate", "phase", "token", "shift", "law", "verse", "code",
        "memory", "forgetting", "capacity", "teacher", "distribution", "stream", "über", "naïve",
    ];

    /// <summary><paramref name="count"/> documents of 1 to <paramref name="maxWords"/> lowercase words.</summary>
    public static string[] Documents(int count, int maxWords, int seed = 11)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => string.Join(' ', Enumerable.Range(0, random.Next(1, maxWords + 1))
                .Select(_ => Words[random.Next(Words.Length)])))
            .ToArray();
    }
}
