using System.Text;

namespace LifelongMoE.Model.Data;

/// <summary>
/// The evaluation sequences of one distribution: its held-out documents in corpus order, packed
/// exactly as training packs (separator after each document, windows of SequenceLength + 1
/// sharing one token), without shuffling. The same inputs always give the same set.
/// </summary>
/// <param name="Tokens">Target tokens the sequences predict: Sequences.Count * SequenceLength.</param>
/// <param name="Bytes">UTF-8 bytes of the text those targets cover, each separator counted as one
/// byte; with the byte tokenizer this equals <paramref name="Tokens"/>.</param>
/// <param name="Documents">Held-out documents the sequences reach into.</param>
public sealed record HeldOutSet(
    IReadOnlyList<long[]> Sequences, int SequenceLength, long Tokens, long Bytes, int Documents)
{
    /// <exception cref="CorpusException">A file is bad, or the held-out text is shorter than one sequence.</exception>
    public static HeldOutSet Build(
        DistributionSpec spec, HoldoutRule holdout, ITokenizer tokenizer, int sequenceLength, int maxSequences)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSequences, 1);

        var documents = new List<TokenizedDocument>();
        var heldOut = new DocumentReader(spec).Where(d => holdout.IsHeldOut(d.Index));
        var sequences = new List<long[]>();
        using (var packer = new SequencePacker(heldOut, tokenizer, sequenceLength, null, documents.Add))
        {
            var window = new int[sequenceLength + 1];
            while (sequences.Count < maxSequences && packer.TryNext(window))
            {
                sequences.Add(Array.ConvertAll(window, t => (long)t));
            }
        }

        if (sequences.Count == 0)
        {
            throw new CorpusException(
                CorpusValidator.FilesOf(spec),
                $"distribution '{spec.Name}' has too little held-out text for one sequence of "
                + $"{sequenceLength + 1} {tokenizer.Name} tokens");
        }

        long targets = (long)sequences.Count * sequenceLength;
        long bytes = BytesOfPrefix(documents, targets + 1) - BytesOfPrefix(documents, 1);
        int reached = CountReached(documents, targets + 1);
        return new HeldOutSet(sequences, sequenceLength, targets, bytes, reached);
    }

    // UTF-8 bytes of the first `tokens` tokens of the packed stream. A whole document counts its
    // text plus one for the separator; a document cut part way counts its bytes in proportion to
    // its tokens, which is exact for the byte tokenizer and close for BPE.
    private static long BytesOfPrefix(List<TokenizedDocument> documents, long tokens)
    {
        long bytes = 0;
        foreach (var document in documents)
        {
            if (tokens <= 0) break;

            long textBytes = Encoding.UTF8.GetByteCount(document.Text);
            int textTokens = document.Tokens.Length - 1;
            if (tokens >= document.Tokens.Length)
            {
                bytes += textBytes + 1;
            }
            else
            {
                bytes += (long)Math.Round((double)textBytes * tokens / textTokens);
            }

            tokens -= document.Tokens.Length;
        }

        return bytes;
    }

    private static int CountReached(List<TokenizedDocument> documents, long tokens)
    {
        int reached = 0;
        foreach (var document in documents)
        {
            if (tokens <= 0) break;

            reached++;
            tokens -= document.Tokens.Length;
        }

        return reached;
    }
}
