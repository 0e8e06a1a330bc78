using System.Text;

namespace LifelongMoE.Model.Data;

/// <summary>
/// Reads a distribution once, end to end, so that a missing, corrupt or empty corpus stops a run
/// before its first step instead of part way through a phase.
/// </summary>
public static class CorpusValidator
{
    /// <exception cref="CorpusException">
    /// A file is missing or unreadable, a document is malformed, or the hold-out rule leaves no
    /// training or no held-out documents.
    /// </exception>
    public static CorpusStats Validate(DistributionSpec spec, HoldoutRule holdout, ITokenizer? tokenizer = null)
    {
        long trainDocuments = 0, heldOutDocuments = 0, trainBytes = 0, heldOutBytes = 0, tokens = 0;
        foreach (var (index, text) in new DocumentReader(spec))
        {
            long bytes = Encoding.UTF8.GetByteCount(text);
            if (holdout.IsHeldOut(index))
            {
                heldOutDocuments++;
                heldOutBytes += bytes;
            }
            else
            {
                trainDocuments++;
                trainBytes += bytes;
            }

            if (tokenizer is not null) tokens += tokenizer.Encode(text).Length;
        }

        RequireDocuments(spec, holdout, trainDocuments, heldOutDocuments);
        return new CorpusStats(
            spec.Name,
            trainDocuments + heldOutDocuments,
            trainDocuments,
            heldOutDocuments,
            trainBytes + heldOutBytes,
            trainBytes,
            heldOutBytes,
            tokenizer is null ? null : tokens);
    }

    internal static string FilesOf(DistributionSpec spec) => string.Join(", ", spec.Files);

    // Evaluation after every phase measures every distribution seen so far, so a distribution
    // without held-out documents would fail only after a phase of training; refuse it up front.
    private static void RequireDocuments(DistributionSpec spec, HoldoutRule holdout, long train, long heldOut)
    {
        string? problem = (train, heldOut) switch
        {
            (0, 0) => "holds no documents",
            (0, _) => $"has no training documents: all {heldOut} are held out by {holdout}",
            (_, 0) => $"has no held-out documents: the {train} documents are too few for {holdout}",
            _ => null,
        };

        if (problem is not null)
            throw new CorpusException(FilesOf(spec), $"distribution '{spec.Name}' {problem}");
    }
}
