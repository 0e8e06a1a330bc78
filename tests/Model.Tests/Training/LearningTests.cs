using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Training;

/// <summary>The whole stack learns: a small model beats the byte-frequency baseline on held-out text.</summary>
[Collection(SerialTorchCollection.Name)]
public class LearningTests(ITestOutputHelper output)
{
    private const int Context = 64;

    [Fact]
    public void Held_out_bits_per_byte_fall_well_below_the_unigram_entropy_on_scripture()
    {
        var (train, heldOut) = ReadCorpus("scripture.jsonl.gz");
        double unigram = UnigramEntropyBits(heldOut);
        var config = new ModelConfig(VocabSize: 256, ContextLength: Context, DModel: 64, NumHeads: 4, NumLayers: 2,
            DFf: 128, MoeEvery: 2, InitialExperts: 4, TopK: 2);
        manual_seed(1);
        using var model = new MoeTransformer(config);
        using var trainer = new InProcessTrainer(model, new TrainOptions(LearningRate: 3e-3, WarmupSteps: 30));
        using var gen = new Generator(1);
        var random = new Random(1);
        var clock = Stopwatch.StartNew();

        const int steps = 300, batch = 16;
        trainer.BeginPhase(steps, shift: false, new GrowthOptions(), gen);
        for (int step = 0; step < steps; step++)
            trainer.Step(Windows(train, batch, i => random.Next(train.Length - Context - 1)), batch);
        // Fixed, evenly spaced windows of the held-out documents, which training never saw.
        int stride = (heldOut.Length - Context - 1) / 64;
        var evaluation = Enumerable.Range(0, 64).Select(i => Windows(heldOut, 1, _ => i * stride)).ToList();
        double bitsPerByte = trainer.Evaluate(evaluation, 16) / Math.Log(2);

        output.WriteLine($"unigram {unigram:F3} bits/byte, model {bitsPerByte:F3} bits/byte, {clock.Elapsed}");
        Assert.InRange(unigram, 3.5, 5.5);
        Assert.True(bitsPerByte < 0.85 * unigram, $"held-out {bitsPerByte:F3} bits/byte vs unigram {unigram:F3}");
    }

    /// <summary>
    /// The corpus's documents as UTF-8 bytes (the byte tokenizer's ids), split by the hold-out rule:
    /// document i is held out when i % 20 == 19.
    /// </summary>
    private static (byte[] Train, byte[] HeldOut) ReadCorpus(string file)
    {
        var path = Path.Combine(CorporaDirectory(), file);
        using var stream = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var train = new List<byte>();
        var heldOut = new List<byte>();
        int index = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            if (line.Length == 0) continue;
            var text = JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!;
            (index++ % 20 == 19 ? heldOut : train).AddRange(Encoding.UTF8.GetBytes(text + "\n"));
        }
        return (train.ToArray(), heldOut.ToArray());
    }

    private static string CorporaDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "data", "corpora");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"no data/corpora above {AppContext.BaseDirectory}");
    }

    // Entropy of the byte-frequency distribution, i.e. the best a model that ignores context can do.
    private static double UnigramEntropyBits(byte[] text)
    {
        var counts = new long[256];
        foreach (var b in text) counts[b]++;
        return -counts.Where(c => c > 0).Sum(c => (double)c / text.Length * Math.Log2((double)c / text.Length));
    }

    private static long[] Windows(byte[] text, int rows, Func<int, int> start) =>
        Enumerable.Range(0, rows).SelectMany(r => text.Skip(start(r)).Take(Context + 1))
            .Select(b => (long)b).ToArray();
}
