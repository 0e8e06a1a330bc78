using System.IO.Compression;
using System.Text;
using System.Text.Json;
using LifelongMoE.Model.Data;

namespace LifelongMoE.Model.Tests.Data;

public class ShippedCorpusTests
{
    public static TheoryData<string> Names() => new(ShippedCorpora.Names);

    [Theory]
    [MemberData(nameof(Names))]
    public void Shipped_corpus_loads_with_enough_text_and_splits_by_the_rule(string name)
    {
        var stats = CorpusValidator.Validate(ShippedCorpora.Spec(name), ShippedCorpora.Holdout);

        Assert.True(stats.Bytes > 1_000_000, $"{name}: {stats.Bytes} bytes");
        Assert.True(stats.Documents > 40, $"{name}: {stats.Documents} documents");
        Assert.Equal(stats.Documents, stats.TrainDocuments + stats.HeldOutDocuments);
        Assert.Equal(stats.Bytes, stats.TrainBytes + stats.HeldOutBytes);
        Assert.Equal(stats.Documents / 20, stats.HeldOutDocuments);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Shipped_corpus_held_out_ids_are_disjoint_from_training_ids(string name)
    {
        var lines = RawDocuments(ShippedCorpora.PathOf(name));
        var read = new DocumentReader(ShippedCorpora.Spec(name)).ToList();

        // The reader numbers documents as the file orders them, so the rule means the same to both.
        Assert.Equal(lines.Select(l => l.Text), read.Select(d => d.Text));
        Assert.Equal(Enumerable.Range(0, lines.Count), read.Select(d => d.Index));

        var heldOut = lines.Where((_, i) => ShippedCorpora.Holdout.IsHeldOut(i)).Select(l => l.Id).ToHashSet();
        var training = lines.Where((_, i) => !ShippedCorpora.Holdout.IsHeldOut(i)).Select(l => l.Id).ToHashSet();
        Assert.Equal(lines.Count, heldOut.Count + training.Count);
        Assert.Empty(heldOut.Intersect(training));
        Assert.Equal(lines.Count / 20, heldOut.Count);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Shipped_corpus_training_sequences_hold_no_held_out_document(string name)
    {
        var spec = ShippedCorpora.Spec(name);
        var texts = new DocumentReader(spec).ToList();
        var heldOut = texts.Where(d => ShippedCorpora.Holdout.IsHeldOut(d.Index)).Select(d => d.Text).ToHashSet();
        var training = texts.Where(d => !ShippedCorpora.Holdout.IsHeldOut(d.Index)).Select(d => d.Text).ToList();

        var (packed, packedBytes) = TrainingDocumentsOfOneEpoch(spec);

        // Every document the sequences carry is a training document, in order, and none is held out;
        // only the tail that does not fill a last sequence is missing.
        long trainingBytes = training.Sum(t => Encoding.UTF8.GetByteCount(t) + 1L);
        Assert.InRange(packedBytes, trainingBytes - EpochSequenceLength, trainingBytes);
        Assert.Equal(training.Take(packed.Count), packed);
        Assert.DoesNotContain(packed, heldOut.Contains);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Shipped_corpus_gives_a_held_out_set_in_gpt2_tokens(string name)
    {
        var gpt2 = Tokenizers.Create("gpt2");

        var set = HeldOutSet.Build(ShippedCorpora.Spec(name), ShippedCorpora.Holdout, gpt2, 128, 64);

        Assert.Equal(64, set.Sequences.Count);
        Assert.Equal(64 * 128, set.Tokens);
        Assert.InRange((double)set.Bytes / set.Tokens, 1.5, 8.0);
    }

    private static List<(string Id, string Text)> RawDocuments(string path)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        var documents = new List<(string, string)>();
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            if (line.Length == 0) continue;

            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            documents.Add((root.GetProperty("id").GetString()!, root.GetProperty("text").GetString()!));
        }

        return documents;
    }

    private const int EpochSequenceLength = 1024;

    // Rebuilds the documents one unshuffled epoch of byte sequences carries, cut at separators,
    // and counts the bytes the epoch covers.
    private static (List<string> Documents, long Bytes) TrainingDocumentsOfOneEpoch(DistributionSpec spec)
    {
        var options = new TokenStreamOptions(1, EpochSequenceLength, 1, 0);
        using var stream = new TokenStream(spec, ShippedCorpora.Holdout, ByteTokenizer.Instance, options);
        var bytes = new List<byte>();
        for (bool first = true; stream.Cursor.Epoch == 0; first = false)
        {
            var row = stream.Next().Row(0);
            foreach (var token in first ? row : row[1..]) bytes.Add((byte)token);
        }

        var documents = new List<string>();
        int start = 0;
        for (int i = 0; i < bytes.Count; i++)
        {
            if (bytes[i] != ByteTokenizer.Instance.DocumentSeparator) continue;

            documents.Add(Encoding.UTF8.GetString(bytes.GetRange(start, i - start).ToArray()));
            start = i + 1;
        }

        return (documents, bytes.Count);
    }
}
