using LifelongMoE.Model.Data;

namespace LifelongMoE.Actors.Training;

/// <summary>
/// The distributions of a run, validated up front (a bad file stops the run before step 1), with their fixed
/// held-out evaluation sets and a factory for each phase's training stream.
/// </summary>
public sealed class TrainingData
{
    private readonly RunSettings settings;
    private readonly IReadOnlyDictionary<string, DistributionSpec> specs;

    private TrainingData(RunSettings settings, IReadOnlyDictionary<string, DistributionSpec> specs, HoldoutRule holdout,
        IReadOnlyList<string> order, ITokenizer tokenizer, IReadOnlyList<HeldOutSet> heldOut)
    {
        this.settings = settings;
        this.specs = specs;
        Holdout = holdout;
        Order = order;
        Tokenizer = tokenizer;
        HeldOut = heldOut;
    }

    public IReadOnlyList<string> Order { get; }
    public HoldoutRule Holdout { get; }
    public ITokenizer Tokenizer { get; }

    /// <summary>Evaluation sets, in <see cref="Order"/>.</summary>
    public IReadOnlyList<HeldOutSet> HeldOut { get; }

    public static TrainingData Load(RunSettings settings)
    {
        var (distributions, holdout) = CorpusManifestLoader.Load(settings.CorpusManifest);
        var byName = distributions.ToDictionary(d => d.Name);
        var order = settings.Distributions.Count > 0 ? settings.Distributions : distributions.Select(d => d.Name).ToList();
        foreach (var name in order)
        {
            if (!byName.ContainsKey(name))
                throw new ArgumentException(
                    $"lifelong-moe.distributions names '{name}', which {settings.CorpusManifest} does not define " +
                    $"(it has: {string.Join(", ", byName.Keys)})");
        }

        var tokenizer = Tokenizers.Create(settings.Tokenizer);
        foreach (var name in order) CorpusValidator.Validate(byName[name], holdout, tokenizer: null);
        var heldOut = order.Select(name => HeldOutSet.Build(byName[name], holdout, tokenizer, settings.SequenceLength,
            settings.EvalSequences)).ToList();
        return new TrainingData(settings, byName, holdout, order, tokenizer, heldOut);
    }

    /// <summary>
    /// The training stream of a distribution for one phase, seeded by the run seed and the phase; from its start, or
    /// from a checkpoint's cursor.
    /// </summary>
    public TokenStream Stream(string distribution, int phase, StreamCursor? cursor = null) =>
        new(specs[distribution], Holdout, Tokenizer, new TokenStreamOptions(settings.BatchSize, settings.SequenceLength,
            settings.ShuffleBlock, settings.Seed + phase), cursor);
}
