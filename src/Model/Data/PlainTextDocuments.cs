using System.Text;

namespace LifelongMoE.Model.Data;

/// <summary>Cuts the lines of one plain-text file into documents by a <see cref="DocumentSplit"/>.</summary>
internal static class PlainTextDocuments
{
    public static IEnumerable<string> Read(CorpusFile file, DocumentSplit split) => split.Kind switch
    {
        DocumentSplitKind.Line => Lines(file),
        DocumentSplitKind.WholeFile => Groups(file, static _ => false),
        DocumentSplitKind.BlankLine => Groups(file, string.IsNullOrWhiteSpace),
        _ => Groups(file, line => line == split.Separator),
    };

    private static IEnumerable<string> Lines(CorpusFile file)
    {
        for (var line = file.ReadLine(); line is not null; line = file.ReadLine())
        {
            if (!string.IsNullOrWhiteSpace(line)) yield return line;
        }
    }

    // A document is the run of lines between two boundary lines, blank lines at its ends dropped.
    private static IEnumerable<string> Groups(CorpusFile file, Func<string, bool> isBoundary)
    {
        var document = new List<string>();
        for (var line = file.ReadLine(); line is not null; line = file.ReadLine())
        {
            if (!isBoundary(line))
            {
                document.Add(line);
                continue;
            }

            if (Join(document) is { } text) yield return text;
            document.Clear();
        }

        if (Join(document) is { } last) yield return last;
    }

    private static string? Join(List<string> lines)
    {
        int first = lines.FindIndex(l => !string.IsNullOrWhiteSpace(l));
        if (first < 0) return null;

        int end = lines.FindLastIndex(l => !string.IsNullOrWhiteSpace(l)) + 1;
        var text = new StringBuilder();
        for (int i = first; i < end; i++)
        {
            if (i > first) text.Append('\n');
            text.Append(lines[i]);
        }

        return text.ToString();
    }
}
