using System.Collections;

namespace LifelongMoE.Model.Data;

/// <summary>
/// Streams the documents of a distribution, numbered from 0 across its files in order. Files are
/// opened one at a time as the enumeration reaches them, so nothing is read until it is needed
/// and a bad file fails with a <see cref="CorpusException"/> when it is reached. Each enumeration
/// reads the files afresh.
/// </summary>
/// <remarks>
/// In JSON Lines files every non-blank line is a document, even one whose text is empty, so the
/// document index equals the count of non-blank lines before it; blank lines are skipped.
/// </remarks>
public sealed class DocumentReader(DistributionSpec spec) : IEnumerable<(int Index, string Text)>
{
    public DistributionSpec Spec { get; } = spec;

    public IEnumerator<(int Index, string Text)> GetEnumerator()
    {
        if (Spec.Files.Count == 0)
            throw new CorpusException("", $"distribution '{Spec.Name}' names no files");

        int index = 0;
        foreach (var path in Spec.Files)
        {
            using var file = CorpusFile.Open(path, Spec.Compression);
            foreach (var text in Documents(file))
            {
                yield return (index, text);
                index++;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private IEnumerable<string> Documents(CorpusFile file) => Spec.Format switch
    {
        CorpusFormat.JsonLines => JsonLines(file),
        CorpusFormat.Text => PlainTextDocuments.Read(file, Spec.Split),
        _ => throw new ArgumentOutOfRangeException(nameof(Spec), Spec.Format, "unknown corpus format"),
    };

    private IEnumerable<string> JsonLines(CorpusFile file)
    {
        for (var line = file.ReadLine(); line is not null; line = file.ReadLine())
        {
            if (string.IsNullOrWhiteSpace(line)) continue;

            yield return JsonLineDocument.Text(line, Spec.TextField, file.Path, file.LineNumber);
        }
    }
}
