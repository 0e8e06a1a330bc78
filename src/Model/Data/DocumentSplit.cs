namespace LifelongMoE.Model.Data;

public enum DocumentSplitKind
{
    /// <summary>Each non-blank line is a document.</summary>
    Line,

    /// <summary>Documents are separated by one or more blank lines.</summary>
    BlankLine,

    /// <summary>Each file is one document.</summary>
    WholeFile,

    /// <summary>Documents are separated by a line equal to <see cref="DocumentSplit.Separator"/>.</summary>
    SeparatorLine,
}

/// <summary>
/// How a plain-text corpus is cut into documents. A line counts as blank when it holds only
/// white space; line endings (\n, \r\n, \r) become "\n" inside a document, and blank lines at
/// either end of a document are dropped.
/// </summary>
public sealed record DocumentSplit
{
    private DocumentSplit(DocumentSplitKind kind, string? separator)
    {
        Kind = kind;
        Separator = separator;
    }

    public static DocumentSplit Line { get; } = new(DocumentSplitKind.Line, null);

    public static DocumentSplit BlankLine { get; } = new(DocumentSplitKind.BlankLine, null);

    public static DocumentSplit WholeFile { get; } = new(DocumentSplitKind.WholeFile, null);

    public DocumentSplitKind Kind { get; }

    /// <summary>The separator line for <see cref="DocumentSplitKind.SeparatorLine"/>, else null.</summary>
    public string? Separator { get; }

    /// <summary>Documents end at every line that equals <paramref name="separator"/> exactly.</summary>
    public static DocumentSplit SeparatorLine(string separator)
    {
        if (string.IsNullOrWhiteSpace(separator) || separator.Contains('\n') || separator.Contains('\r'))
            throw new ArgumentException($"a separator line must be one non-blank line, got '{separator}'");

        return new DocumentSplit(DocumentSplitKind.SeparatorLine, separator);
    }

    /// <summary>
    /// Reads "line", "blank-line" or "whole-file"; any other non-blank value is taken as a
    /// separator line (for example "&lt;|doc|&gt;").
    /// </summary>
    public static DocumentSplit Parse(string value) => value switch
    {
        "line" => Line,
        "blank-line" => BlankLine,
        "whole-file" => WholeFile,
        _ => SeparatorLine(value),
    };

    public override string ToString() => Kind switch
    {
        DocumentSplitKind.Line => "line",
        DocumentSplitKind.BlankLine => "blank-line",
        DocumentSplitKind.WholeFile => "whole-file",
        _ => Separator!,
    };
}
