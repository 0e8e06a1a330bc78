using Microsoft.ML.Tokenizers;

namespace LifelongMoE.Model.Data;

/// <summary>
/// A tiktoken byte-pair encoding ("gpt2" or "cl100k") whose vocabulary ships inside the
/// Microsoft.ML.Tokenizers.Data.* packages, so nothing is downloaded at run time.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    private const string EndOfText = "<|endoftext|>";
    private readonly TiktokenTokenizer _tiktoken;
    private readonly string[] _specialTokens;

    // The library does not expose the size of the merge table, so it is stated here: ids below
    // it are ordinary tokens and the special tokens come after.
    private BpeTokenizer(string name, TiktokenTokenizer tiktoken, int ordinaryTokens)
    {
        Name = name;
        _tiktoken = tiktoken;
        _specialTokens = tiktoken.SpecialTokens?.Keys.ToArray() ?? [];
        DocumentSeparator = tiktoken.SpecialTokens?.GetValueOrDefault(EndOfText)
            ?? throw new InvalidOperationException($"{name} has no {EndOfText} token");

        VocabSize = Math.Max(ordinaryTokens, tiktoken.SpecialTokens!.Values.Max() + 1);
    }

    public static BpeTokenizer Gpt2() => new("gpt2", TiktokenTokenizer.CreateForModel("gpt2"), 50_256);

    public static BpeTokenizer Cl100k() =>
        new("cl100k", TiktokenTokenizer.CreateForEncoding("cl100k_base"), 100_256);

    public string Name { get; }

    public int VocabSize { get; }

    public int DocumentSeparator { get; }

    public int[] Encode(string text)
    {
        if (!text.Contains("<|", StringComparison.Ordinal)) return EncodePlain(text);

        return EncodeAroundSpecialTokens(text);
    }

    public string Decode(ReadOnlySpan<int> ids) => _tiktoken.Decode(ids.ToArray()) ?? "";

    private int[] EncodePlain(string text) => _tiktoken.EncodeToIds(text).ToArray();

    // The tiktoken pre-tokenizer turns a literal "<|endoftext|>" in the text into the special
    // id, which would plant a false document boundary (text about language models contains it).
    // Encoding "<|" apart from the rest of the literal keeps it ordinary text that decodes back
    // to the same characters.
    private int[] EncodeAroundSpecialTokens(string text)
    {
        var ids = new List<int>();
        int start = 0;
        for (int at = FindSpecial(text, start); at >= 0; at = FindSpecial(text, start))
        {
            ids.AddRange(EncodePlain(text[start..at]));
            ids.AddRange(EncodePlain(text.Substring(at, 2)));
            start = at + 2;
        }

        ids.AddRange(EncodePlain(text[start..]));
        return ids.ToArray();
    }

    private int FindSpecial(string text, int start)
    {
        int first = -1;
        foreach (var special in _specialTokens)
        {
            int at = text.IndexOf(special, start, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }

        return first;
    }
}
