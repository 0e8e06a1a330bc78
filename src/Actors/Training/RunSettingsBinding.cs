using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using LifelongMoE.Model.Data;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;

namespace LifelongMoE.Actors.Training;

/// <summary>
/// A configuration value is missing, malformed or out of range. The message names the full key, the value
/// as written and what is allowed, e.g. <c>lifelong-moe.train.strategy = "grow": expected lifelong or finetune</c>.
/// </summary>
public sealed class SettingsException : Exception
{
    public SettingsException(string key, string? value, string problem, Exception? inner = null)
        : base(value is null ? $"{key}: {problem}" : $"{key} = {value}: {problem}", inner)
    {
        Key = key;
        Value = value;
    }

    /// <summary>The full HOCON path at fault.</summary>
    public string Key { get; }

    /// <summary>The value as it appears in the message (strings quoted), or null when the key is missing.</summary>
    public string? Value { get; }
}

/// <summary>
/// Binds the <c>lifelong-moe</c> section of a HOCON configuration (hocon/base.hocon lists every key) to
/// <see cref="RunSettings"/>, validating every value. A key under the section that nothing reads is an
/// error too, so a typo on the command line cannot silently leave a default in place.
/// </summary>
public static class RunSettingsBinding
{
    public const string Section = "lifelong-moe";

    /// <summary>The file that marks the repository root.</summary>
    public const string SolutionFile = "LifelongMoE.sln";

    private const string Positive = "must be positive";
    private const string NotNegative = "must be 0 or more";

    private static readonly Regex DevicePattern = new(@"^(cpu|cuda(:\d+)?)$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Refuses a CUDA device where this process cannot reach one. Binding alone does not check it (a config for
    /// a GPU node can be read anywhere); the verbs that compute call this before they start anything.
    /// </summary>
    public static string RequireDeviceAvailable(string device)
    {
        if (device.StartsWith("cuda", StringComparison.Ordinal) && !TorchSharp.torch.cuda.is_available())
            throw new SettingsException($"{Section}.device", $"\"{device}\"",
                "CUDA is not available to this process (is the CUDA build of libtorch installed, and a GPU visible?)");
        return device;
    }

    /// <summary>Binds with the vocabulary size of the configured tokenizer.</summary>
    public static RunSettings FromConfig(Config root) =>
        FromConfig(root, Tokenizers.Create(TokenizerName(root)).VocabSize);

    /// <param name="vocabSize">from the tokenizer: it is not a configuration key</param>
    /// <param name="workingDirectory">where relative paths start; the process's working directory if null</param>
    /// <param name="now">the time stamp of a default output directory; the current local time if null</param>
    /// <exception cref="SettingsException">a value is missing, malformed or out of range; a key is unknown</exception>
    /// <exception cref="CorpusException">the corpus manifest is malformed</exception>
    public static RunSettings FromConfig(
        Config root, int vocabSize, string? workingDirectory = null, DateTime? now = null)
    {
        var wd = Path.GetFullPath(workingDirectory ?? Directory.GetCurrentDirectory());
        var r = new Reader(root);

        var model = BindModel(r, vocabSize);
        var train = BindTrain(r);
        var growth = BindGrowth(r, train.Strategy);
        var (manifest, distributions) = BindCorpus(r, wd);

        var settings = new RunSettings
        {
            Model = model,
            Train = train,
            Growth = growth,
            CorpusManifest = manifest,
            Distributions = distributions,
            Tokenizer = TokenizerName(root),
            Device = r.Match(Key("device"), DevicePattern, "expected cpu, cuda or cuda:N"),
            Seed = r.Int(Key("seed")),
            Threads = r.Int(Key("threads"), min: 0),
            StepsPerPhase = r.Int(Key("train.steps-per-phase"), min: 1),
            BatchSize = r.Int(Key("train.batch-size"), min: 1),
            ShuffleBlock = r.Int(Key("train.shuffle-block"), min: 1),
            EvalSequences = r.Int(Key("eval.sequences"), min: 1),
            EvalBatchSize = r.Int(Key("eval.batch-size"), min: 1),
            CheckpointEvery = r.Int(Key("checkpoint.every-steps"), min: 0),
            MaxRecoveriesPerPhase = r.Int(Key("recovery.max-per-phase"), min: 0),
            OutputDirectory = OutputDirectory(r.Text(Key("out")), train.Strategy, wd, now ?? DateTime.Now),
            ExpertTimeout = r.Duration(Key("timeouts.expert-request")),
            StepTimeout = r.Duration(Key("timeouts.step")),
        };

        r.Text(Key("journal"));      // read by TrainingRun.WithJournal; marked as known here
        r.Text(Key("tokenizer"));
        r.RejectUnknownKeys(Section);
        return settings;
    }

    /// <summary>The configured tokenizer's name, checked against <see cref="Tokenizers.Names"/>.</summary>
    public static string TokenizerName(Config root)
    {
        var r = new Reader(root);
        return r.Choice(Key("tokenizer"), Tokenizers.Names.Select(n => (n, n)).ToArray());
    }

    /// <summary>The nearest folder at or above <paramref name="start"/> holding LifelongMoE.sln, else null.</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, SolutionFile))) return dir.FullName;
        }

        return null;
    }

    /// <summary>
    /// Where a relative data path (the corpus manifest) is looked for, in order: the repository root above
    /// the working directory, the working directory, the executable's folder (the build copies data/ there).
    /// </summary>
    public static IReadOnlyList<string> DataSearchPath(string workingDirectory)
    {
        var dirs = new List<string>();
        if (FindRepositoryRoot(workingDirectory) is { } repo) dirs.Add(repo);
        dirs.Add(Path.GetFullPath(workingDirectory));
        dirs.Add(Path.GetFullPath(AppContext.BaseDirectory));
        return dirs.Distinct().ToList();
    }

    private static string Key(string relative) => $"{Section}.{relative}";

    private static ModelConfig BindModel(Reader r, int vocabSize)
    {
        if (vocabSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "a vocabulary size must be positive");

        int layers = r.Int(Key("model.n-layers"), min: 1);
        int heads = r.Int(Key("model.n-heads"), min: 1);
        int dModel = r.Int(Key("model.d-model"), min: 1);
        r.Require(dModel % heads == 0, Key("model.d-model"), $"must be a multiple of n-heads ({heads})");

        int experts = r.Int(Key("model.experts"), min: 1);
        int topK = r.Int(Key("model.top-k"), min: 1);
        r.Require(topK <= experts, Key("model.top-k"), $"must be at most experts ({experts})");

        int moeEvery = r.Int(Key("model.moe-every"), min: 0);
        r.Require(moeEvery <= layers, Key("model.moe-every"),
            $"expected 0 (no MoE layer) up to n-layers ({layers}); larger leaves no block with an MoE layer");

        var config = new ModelConfig(
            VocabSize: vocabSize,
            ContextLength: r.Int(Key("model.context-length"), min: 1),
            DModel: dModel,
            NumHeads: heads,
            NumLayers: layers,
            DFf: r.Int(Key("model.d-ff"), min: 1),
            MoeEvery: moeEvery,
            InitialExperts: experts,
            TopK: topK,
            CapacityFactor: r.Double(Key("model.capacity-factor"), v => v >= 0, NotNegative + " (0 = dropless)"),
            LoadBalanceCoef: r.Double(Key("model.load-balance-coef"), v => v >= 0, NotNegative),
            RouterZLossCoef: r.Double(Key("model.router-z-loss-coef"), v => v >= 0, NotNegative));
        config.Validate();
        return config;
    }

    private static TrainOptions BindTrain(Reader r)
    {
        var adam = new AdamWOptions(
            Beta1: r.Double(Key("train.beta1"), v => v is >= 0 and < 1, "must be in [0, 1)"),
            Beta2: r.Double(Key("train.beta2"), v => v is >= 0 and < 1, "must be in [0, 1)"),
            Eps: r.Double(Key("train.eps"), v => v > 0, Positive),
            WeightDecay: r.Double(Key("train.weight-decay"), v => v >= 0, NotNegative));

        return new TrainOptions(
            LearningRate: r.Double(Key("train.lr"), v => v > 0, Positive),
            WarmupSteps: r.Int(Key("train.warmup-steps"), min: 0),
            MinLrRatio: r.Double(Key("train.min-lr-ratio"), v => v is >= 0 and <= 1, "must be in [0, 1]"),
            GradClip: r.Double(Key("train.grad-clip"), v => v >= 0, NotNegative + " (0 = no clipping)"),
            Adam: adam,
            DistillLambda: r.Double(Key("train.distill-lambda"), v => v >= 0, NotNegative),
            DistillTemperature: r.Double(Key("train.distill-temperature"), v => v > 0, Positive),
            Strategy: r.Choice(Key("train.strategy"),
                ("lifelong", Strategy.Lifelong), ("finetune", Strategy.Finetune)));
    }

    private static GrowthOptions BindGrowth(Reader r, Strategy strategy)
    {
        // Lifelong freezes every existing expert at a shift; without new ones nothing would be left to train.
        int perShift = r.Int(Key("growth.experts-per-shift"), min: strategy == Strategy.Lifelong ? 1 : 0,
            why: strategy == Strategy.Lifelong ? " (lifelong freezes the existing experts at every shift)" : "");

        return new GrowthOptions(
            ExpertsPerShift: perShift,
            Init: r.Choice(Key("growth.init"), ("copy", ExpansionInit.Copy), ("random", ExpansionInit.Random)),
            RouterInit: r.Choice(Key("growth.router-init"), ("zero", RouterInit.Zero), ("copy", RouterInit.Copy)),
            NoiseStd: r.Double(Key("growth.noise-std"), v => v >= 0, NotNegative));
    }

    private static (string Manifest, IReadOnlyList<string> Distributions) BindCorpus(Reader r, string wd)
    {
        var key = Key("corpus-manifest");
        var value = r.Text(key);
        if (value.Length == 0) throw new SettingsException(key, "\"\"", "expected the path of a corpus manifest");

        var candidates = Path.IsPathRooted(value)
            ? new[] { Path.GetFullPath(value) }
            : DataSearchPath(wd).Select(dir => Path.GetFullPath(Path.Combine(dir, value))).ToArray();
        var manifest = candidates.FirstOrDefault(File.Exists)
            ?? throw new SettingsException(
                key, Quote(value), $"no such file (looked for {string.Join(", ", candidates)})");

        var distributions = r.List(Key("distributions"));
        if (distributions.Count == 0) return (manifest, distributions);

        var known = CorpusManifestLoader.Load(manifest).Distributions.Select(d => d.Name).ToList();
        var listed = "[" + string.Join(", ", distributions) + "]";
        foreach (var name in distributions)
        {
            if (!known.Contains(name))
                throw new SettingsException(Key("distributions"), listed,
                    $"\"{name}\" is not in {manifest}; expected names from {string.Join(", ", known)}");
        }

        var repeated = distributions.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
            throw new SettingsException(Key("distributions"), listed, $"\"{repeated.Key}\" is listed twice");

        return (manifest, distributions);
    }

    private static string OutputDirectory(string value, Strategy strategy, string wd, DateTime now)
    {
        if (value.Length > 0) return Path.GetFullPath(Path.Combine(wd, value));

        var stamp = now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var name = $"{stamp}-{strategy.ToString().ToLowerInvariant()}";
        return Path.Combine(wd, "runs", name);
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>Typed reads that wrap every failure with its key, remembering which keys were read.</summary>
    private sealed class Reader(Config root)
    {
        private readonly HashSet<string> read = new(StringComparer.Ordinal);

        public string Text(string key)
        {
            var value = Value(key);
            if (!value.IsString()) throw new SettingsException(key, Shown(value), "expected a single value");
            return value.GetString() ?? "";
        }

        public int Int(string key, int min = int.MinValue, string why = "")
        {
            var raw = Text(key);
            int value;
            try
            {
                value = root.GetInt(key);
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new SettingsException(key, Shown(raw), "expected a whole number", e);
            }

            if (value < min)
            {
                var rule = min == 1 ? "must be positive" : $"must be at least {min}";
                throw new SettingsException(key, Shown(raw), rule + why);
            }

            return value;
        }

        public double Double(string key, Func<double, bool> allowed, string rule)
        {
            var raw = Text(key);
            double value;
            try
            {
                value = root.GetDouble(key);
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new SettingsException(key, Shown(raw), "expected a number", e);
            }

            if (!double.IsFinite(value) || !allowed(value)) throw new SettingsException(key, Shown(raw), rule);
            return value;
        }

        public TimeSpan Duration(string key)
        {
            var raw = Text(key);
            TimeSpan value;
            try
            {
                value = root.GetTimeSpan(key);
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new SettingsException(key, Shown(raw), "expected a duration such as 30s, 500ms or 2m", e);
            }

            if (value <= TimeSpan.Zero) throw new SettingsException(key, Shown(raw), "must be positive");
            return value;
        }

        /// <summary>A list, or a comma-separated string (as the command line gives it).</summary>
        public IReadOnlyList<string> List(string key)
        {
            // Akka's parser reports an empty list as neither a list nor a string: GetString() is null then.
            var value = Value(key);
            if (value.IsObject()) throw new SettingsException(key, Shown(value), "expected a list");
            if (!value.IsArray())
            {
                return (value.GetString() ?? "")
                    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }

            var items = value.GetArray();
            if (items.Any(v => v.IsObject() || v.IsArray()))
                throw new SettingsException(key, Shown(value), "expected a list of names");
            return items.Select(v => v.GetString()).ToList();
        }

        public T Choice<T>(string key, params (string Name, T Value)[] allowed)
        {
            var raw = Text(key);
            foreach (var (name, value) in allowed)
            {
                if (string.Equals(name, raw, StringComparison.OrdinalIgnoreCase)) return value;
            }

            var names = allowed.Select(a => a.Name).ToList();
            throw new SettingsException(key, Shown(raw), "expected " + Alternatives(names));
        }

        public string Match(string key, Regex pattern, string expected)
        {
            var raw = Text(key);
            if (!pattern.IsMatch(raw)) throw new SettingsException(key, Shown(raw), expected);
            return raw;
        }

        public void Require(bool ok, string key, string rule)
        {
            if (!ok) throw new SettingsException(key, Shown(Text(key)), rule);
        }

        /// <summary>Throws for the first leaf under <paramref name="section"/> that was never read.</summary>
        public void RejectUnknownKeys(string section)
        {
            foreach (var leaf in Leaves(section, root.GetValue(section)))
            {
                if (read.Contains(leaf)) continue;

                var nearest = read.MinBy(k => Distance(k, leaf));
                var hint = nearest is not null && Distance(nearest, leaf) <= 3 ? $" (did you mean {nearest}?)" : "";
                throw new SettingsException(leaf, null, "unknown key" + hint);
            }
        }

        private HoconValue Value(string key)
        {
            read.Add(key);
            if (!root.HasPath(key)) throw new SettingsException(key, null, "missing (is hocon/base.hocon loaded?)");
            return root.GetValue(key);
        }

        private static IEnumerable<string> Leaves(string path, HoconValue? value)
        {
            if (value is null || !value.IsObject())
            {
                yield return path;
                yield break;
            }

            foreach (var (name, child) in value.GetObject().Items)
            foreach (var leaf in Leaves($"{path}.{name}", child))
                yield return leaf;
        }

        private static string Shown(HoconValue value) =>
            value.IsArray() ? "[" + string.Join(", ", value.GetArray().Select(v => v.ToString())) + "]"
            : value.IsObject() ? "{...}"
            : !value.IsString() ? "[]"
            : Shown(value.GetString() ?? "");

        private static string Shown(string raw) =>
            double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? raw : Quote(raw);

        private static string Alternatives(IReadOnlyList<string> names) =>
            names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " or " + names[^1];

        private static int Distance(string a, string b)
        {
            var previous = Enumerable.Range(0, b.Length + 1).ToArray();
            for (int i = 1; i <= a.Length; i++)
            {
                var current = new int[b.Length + 1];
                current[0] = i;
                for (int j = 1; j <= b.Length; j++)
                {
                    int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                    current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
                }

                previous = current;
            }

            return previous[b.Length];
        }
    }
}
