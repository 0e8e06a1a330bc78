using LifelongMoE.Model.Data;

namespace LifelongMoE.Actors.Tests;

/// <summary>The shipped corpora, found from the test's output directory.</summary>
public static class TestCorpus
{
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LifelongMoE.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    public static DistributionSpec Spec(string name) => new(name,
        new[] { Path.Combine(RepositoryRoot, "data", "corpora", $"{name}.jsonl.gz") },
        CorpusFormat.JsonLines, "text", Compression.Auto, DocumentSplit.Line);

    /// <summary>The first <paramref name="count"/> batches of a distribution's training stream.</summary>
    public static List<TokenBatch> Batches(string name, int count, int batchSize, int sequenceLength, int seed = 7)
    {
        using var stream = new TokenStream(Spec(name), HoldoutRule.Default, new ByteTokenizer(),
            new TokenStreamOptions(batchSize, sequenceLength, 64, seed));
        return Enumerable.Range(0, count).Select(_ => stream.Next()).ToList();
    }
}
