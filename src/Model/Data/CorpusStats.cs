namespace LifelongMoE.Model.Data;

/// <summary>What one full pass over a distribution found. Bytes are UTF-8 bytes of document text.</summary>
/// <param name="Tokens">Tokens of all document text (separators not counted); null without a tokenizer.</param>
public sealed record CorpusStats(
    string Name,
    long Documents,
    long TrainDocuments,
    long HeldOutDocuments,
    long Bytes,
    long TrainBytes,
    long HeldOutBytes,
    long? Tokens);
