namespace LifelongMoE.Model.Data;

/// <summary>A corpus cannot be used: a file is missing, unreadable, malformed, or holds too little.</summary>
public sealed class CorpusException : Exception
{
    public CorpusException(string file, string problem, long? line = null, Exception? inner = null)
        : base(Describe(file, problem, line), inner)
    {
        File = file;
        Line = line;
    }

    /// <summary>The file at fault; several paths joined by ", " when the problem is the whole distribution.</summary>
    public string File { get; }

    /// <summary>The 1-based line the problem was found at, when it has one.</summary>
    public long? Line { get; }

    private static string Describe(string file, string problem, long? line) =>
        line is { } n ? $"{file}, line {n}: {problem}" : $"{file}: {problem}";
}
