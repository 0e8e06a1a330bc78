namespace LifelongMoE.Model.Data;

/// <summary>How a corpus file holds its documents.</summary>
public enum CorpusFormat
{
    /// <summary>Plain UTF-8 text, cut into documents by a <see cref="DocumentSplit"/>.</summary>
    Text,

    /// <summary>One JSON object per line; the document is one string field of it.</summary>
    JsonLines,
}
