using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

/// <summary>The corpora shipped in data/corpora, located from the repository root.</summary>
internal static class ShippedCorpora
{
    public static readonly string[] Names = ["fiction", "scripture", "legal", "computing", "code"];

    public static HoldoutRule Holdout { get; } = new(20, 19);

    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "LifelongMoE.sln"))) return folder.FullName;
        }

        throw new InvalidOperationException($"no LifelongMoE.sln above {AppContext.BaseDirectory}");
    }

    public static string PathOf(string name) =>
        Path.Combine(RepositoryRoot(), "data", "corpora", $"{name}.jsonl.gz");

    /// <summary>The spec the manifest describes; fails the test plainly when the file is missing.</summary>
    public static DistributionSpec Spec(string name)
    {
        var path = PathOf(name);
        Assert.True(File.Exists(path), $"shipped corpus {path} is missing");

        return new DistributionSpec(
            name, [path], CorpusFormat.JsonLines, "text", Compression.Auto, DocumentSplit.Line);
    }
}
