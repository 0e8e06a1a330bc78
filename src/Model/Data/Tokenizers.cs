namespace LifelongMoE.Model.Data;

/// <summary>Creates tokenizers by the names used in configuration.</summary>
public static class Tokenizers
{
    public static IReadOnlyList<string> Names { get; } = ["bytes", "gpt2", "cl100k"];

    // Loading a BPE vocabulary takes a noticeable fraction of a second; the tokenizers are
    // immutable, so one instance of each serves the whole process.
    private static readonly Lazy<BpeTokenizer> Gpt2 = new(BpeTokenizer.Gpt2);
    private static readonly Lazy<BpeTokenizer> Cl100k = new(BpeTokenizer.Cl100k);

    /// <summary>Returns the tokenizer named "bytes", "gpt2" or "cl100k".</summary>
    /// <exception cref="ArgumentException">The name is none of those.</exception>
    public static ITokenizer Create(string name) => name switch
    {
        "bytes" => ByteTokenizer.Instance,
        "gpt2" => Gpt2.Value,
        "cl100k" => Cl100k.Value,
        _ => throw new ArgumentException(
            $"unknown tokenizer '{name}'; expected one of: {string.Join(", ", Names)}", nameof(name)),
    };
}
