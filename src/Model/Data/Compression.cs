namespace LifelongMoE.Model.Data;

/// <summary>How a corpus file is compressed.</summary>
public enum Compression
{
    None,
    Gzip,
    Zstd,

    /// <summary>By file extension: ".gz" is gzip, ".zst" or ".zstd" is zstd, anything else is none.</summary>
    Auto,
}
