namespace LifelongMoE.Model.Data;

/// <summary>
/// One distribution of the lifelong stream and where its text lives. Documents are numbered
/// from 0 across <paramref name="Files"/> in order; <see cref="HoldoutRule"/> uses that number.
/// </summary>
/// <param name="Files">Absolute paths, read in this order.</param>
/// <param name="TextField">For <see cref="CorpusFormat.JsonLines"/>: the field holding the text.</param>
/// <param name="Split">For <see cref="CorpusFormat.Text"/>: how the text is cut into documents.</param>
public sealed record DistributionSpec(
    string Name,
    IReadOnlyList<string> Files,
    CorpusFormat Format,
    string TextField,
    Compression Compression,
    DocumentSplit Split);
