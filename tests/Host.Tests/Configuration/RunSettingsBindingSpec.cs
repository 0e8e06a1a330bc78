using Akka.Configuration;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;

namespace LifelongMoE.Host.Tests.Configuration;

public class RunSettingsBindingSpec
{
    private static Config Load(params string[] args) =>
        ConfigLayers.Load(CommandLine.Parse(["train", .. args]), Repository.Hocon);

    private static RunSettings Bind(params string[] args) =>
        RunSettingsBinding.FromConfig(Load(args), 256, Repository.Root, new DateTime(2026, 1, 2, 3, 4, 5));

    private static SettingsException BadValue(params string[] args) =>
        Assert.Throws<SettingsException>(() => Bind(args));

    [Fact]
    public void Base_defaults_bind_to_the_documented_values()
    {
        var config = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Repository.Hocon, "base.hocon")));
        var s = RunSettingsBinding.FromConfig(config, 256, Repository.Root, new DateTime(2026, 1, 2, 3, 4, 5));

        Assert.Equal(new ModelConfig(256, 128, 128, 4, 4, 256, 2, 4, 2, 0, 0.01, 0.001), s.Model);
        Assert.Equal(Strategy.Lifelong, s.Train.Strategy);
        Assert.Equal(1e-3, s.Train.LearningRate);
        Assert.Equal(30, s.Train.WarmupSteps);
        Assert.Equal(0.1, s.Train.MinLrRatio);
        Assert.Equal(1.0, s.Train.GradClip);
        Assert.Equal(new AdamWOptions(0.9, 0.95, 1e-8, 0.1), s.Train.AdamOptions);
        Assert.Equal(1.0, s.Train.DistillLambda);
        Assert.Equal(1.0, s.Train.DistillTemperature);
        Assert.Equal(new GrowthOptions(2, ExpansionInit.Copy, RouterInit.Zero, 0.01), s.Growth);
        Assert.Equal(300, s.StepsPerPhase);
        Assert.Equal(16, s.BatchSize);
        Assert.Equal(256, s.ShuffleBlock);
        Assert.Equal((64, 16), (s.EvalSequences, s.EvalBatchSize));
        Assert.Equal(0, s.CheckpointEvery);
        Assert.Equal(TimeSpan.FromSeconds(30), s.ExpertTimeout);
        Assert.Equal(TimeSpan.FromSeconds(120), s.StepTimeout);
        Assert.Equal(("cpu", 1234, 2, "bytes"), (s.Device, s.Seed, s.Threads, s.Tokenizer));
        Assert.Empty(s.Distributions);
        Assert.Equal(Repository.Manifest, s.CorpusManifest);
        Assert.Equal(Path.Combine(Repository.Root, "runs", "20260102-030405-lifelong"), s.OutputDirectory);
    }

    [Theory]
    [InlineData("tiny", 32, 20)]
    [InlineData("default", 128, 400)]
    [InlineData("large", 512, 2000)]
    public void Each_preset_loads(string preset, int dModel, int steps)
    {
        var s = Bind("--preset", preset);

        Assert.Equal(dModel, s.Model.DModel);
        Assert.Equal(steps, s.StepsPerPhase);
    }

    [Fact]
    public void Presets_override_only_lifelong_moe_keys()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Hocon, "presets"), "*.hocon"))
        {
            var root = ConfigurationFactory.ParseString(File.ReadAllText(file)).Root.GetObject();
            Assert.Equal(new[] { "lifelong-moe" }, root.Items.Keys.ToArray());
        }
    }

    [Fact]
    public void A_preset_may_be_a_path()
    {
        var s = Bind("--preset", Path.Combine(Repository.Hocon, "presets", "tiny.hocon"));

        Assert.Equal(32, s.Model.DModel);
    }

    [Fact]
    public void Overrides_win_over_preset_and_config_file_in_the_order_given()
    {
        var extra = Path.Combine(Repository.TempDirectory("config"), "extra.hocon");
        File.WriteAllText(extra, "lifelong-moe.train { batch-size = 4, steps-per-phase = 7 }");

        var s = Bind("--preset", "tiny", "--config", extra, "train.steps-per-phase=50",
            "--set", "lifelong-moe.model.d-model=64", "--set", "train.lr=5e-4", "--strategy", "finetune",
            "train.lr=2e-4", "device=cuda:1", "distributions=[legal, code]", "--out", "runs/x");

        Assert.Equal(4, s.BatchSize);
        Assert.Equal(50, s.StepsPerPhase);
        Assert.Equal(64, s.Model.DModel);
        Assert.Equal(2e-4, s.Train.LearningRate);
        Assert.Equal(Strategy.Finetune, s.Train.Strategy);
        Assert.Equal("cuda:1", s.Device);
        Assert.Equal(new[] { "legal", "code" }, s.Distributions);
        Assert.Equal(Path.Combine(Repository.Root, "runs", "x"), s.OutputDirectory);
    }

    [Fact]
    public void A_comma_separated_string_is_a_list_of_distributions()
    {
        Assert.Equal(new[] { "fiction", "code" }, Bind("distributions=fiction,code").Distributions);
    }

    [Fact]
    public void Vocabulary_size_comes_from_the_tokenizer()
    {
        var s = RunSettingsBinding.FromConfig(Load("tokenizer=gpt2"));

        Assert.Equal("gpt2", s.Tokenizer);
        Assert.True(s.Model.VocabSize > 50_000);
    }

    [Theory]
    [InlineData("train.strategy=grow", "lifelong-moe.train.strategy = \"grow\": expected lifelong or finetune")]
    [InlineData("tokenizer=words", "lifelong-moe.tokenizer = \"words\": expected bytes, gpt2 or cl100k")]
    [InlineData("growth.init=zeros", "lifelong-moe.growth.init = \"zeros\": expected copy or random")]
    [InlineData("growth.router-init=rand", "lifelong-moe.growth.router-init = \"rand\": expected zero or copy")]
    [InlineData("device=gpu", "lifelong-moe.device = \"gpu\": expected cpu, cuda or cuda:N")]
    [InlineData("model.d-model=130", "lifelong-moe.model.d-model = 130: must be a multiple of n-heads (4)")]
    [InlineData("model.top-k=5", "lifelong-moe.model.top-k = 5: must be at most experts (4)")]
    [InlineData("model.n-layers=0", "lifelong-moe.model.n-layers = 0: must be positive")]
    [InlineData("model.experts=-2", "lifelong-moe.model.experts = -2: must be positive")]
    [InlineData("model.context-length=0", "lifelong-moe.model.context-length = 0: must be positive")]
    [InlineData("model.moe-every=9", "lifelong-moe.model.moe-every = 9: expected 0 (no MoE layer) up to n-layers (4)")]
    [InlineData("model.capacity-factor=-1", "lifelong-moe.model.capacity-factor = -1: must be 0 or more")]
    [InlineData("train.steps-per-phase=0", "lifelong-moe.train.steps-per-phase = 0: must be positive")]
    [InlineData("train.batch-size=-3", "lifelong-moe.train.batch-size = -3: must be positive")]
    [InlineData("train.lr=0", "lifelong-moe.train.lr = 0: must be positive")]
    [InlineData("train.beta2=1", "lifelong-moe.train.beta2 = 1: must be in [0, 1)")]
    [InlineData("train.min-lr-ratio=2", "lifelong-moe.train.min-lr-ratio = 2: must be in [0, 1]")]
    [InlineData("train.distill-temperature=0", "lifelong-moe.train.distill-temperature = 0: must be positive")]
    [InlineData("growth.experts-per-shift=0", "lifelong-moe.growth.experts-per-shift = 0: must be positive")]
    [InlineData("eval.sequences=0", "lifelong-moe.eval.sequences = 0: must be positive")]
    [InlineData("threads=-1", "lifelong-moe.threads = -1: must be at least 0")]
    [InlineData("checkpoint.every-steps=-5", "lifelong-moe.checkpoint.every-steps = -5: must be at least 0")]
    [InlineData("timeouts.step=0s", "lifelong-moe.timeouts.step = \"0s\": must be positive")]
    [InlineData("distributions=[fiction,lgal]", "lifelong-moe.distributions = [fiction, lgal]: \"lgal\" is not in")]
    [InlineData("distributions=[code,code]", "lifelong-moe.distributions = [code, code]: \"code\" is listed twice")]
    [InlineData("model=5", "lifelong-moe.model.n-layers: missing")]
    public void A_bad_value_names_the_key_the_value_and_what_is_allowed(string setting, string message)
    {
        var e = BadValue(setting);

        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void Finetune_may_grow_by_zero_experts()
    {
        Assert.Equal(0, Bind("--strategy", "finetune", "growth.experts-per-shift=0").Growth.ExpertsPerShift);
    }

    [Theory]
    [InlineData("train.lr=fast", "lifelong-moe.train.lr = \"fast\": expected a number")]
    [InlineData("seed=1.5", "lifelong-moe.seed = 1.5: expected a whole number")]
    [InlineData("train.batch-size=5000000000", "lifelong-moe.train.batch-size = 5000000000: expected a whole number")]
    [InlineData("timeouts.expert-request=soon", "lifelong-moe.timeouts.expert-request = \"soon\": expected a duration")]
    public void An_unparseable_value_wraps_the_parser_error_with_the_key(string setting, string message)
    {
        var e = BadValue(setting);

        Assert.StartsWith(message, e.Message);
        Assert.NotNull(e.InnerException);
    }

    [Fact]
    public void An_unknown_key_is_an_error_with_the_nearest_known_key()
    {
        var e = BadValue("train.step-per-phase=50");

        Assert.Equal("lifelong-moe.train.step-per-phase", e.Key);
        Assert.Equal("lifelong-moe.train.step-per-phase: unknown key " +
                     "(did you mean lifelong-moe.train.steps-per-phase?)", e.Message);
    }

    [Fact]
    public void A_missing_manifest_names_the_paths_looked_at()
    {
        var e = BadValue("corpus-manifest=data/nowhere.hocon");

        Assert.Equal("lifelong-moe.corpus-manifest", e.Key);
        Assert.Contains(Path.Combine(Repository.Root, "data", "nowhere.hocon"), e.Message);
    }

    [Fact]
    public void A_relative_out_resolves_against_the_working_directory_and_an_empty_one_is_timestamped()
    {
        var wd = Repository.TempDirectory("wd");
        var config = Load("--strategy", "finetune", $"corpus-manifest={Repository.Manifest}");
        var now = new DateTime(2030, 12, 31, 23, 59, 58);

        Assert.Equal(Path.Combine(wd, "runs", "20301231-235958-finetune"),
            RunSettingsBinding.FromConfig(config, 256, wd, now).OutputDirectory);
        Assert.Equal(Path.Combine(wd, "mine"),
            RunSettingsBinding.FromConfig(Load($"corpus-manifest={Repository.Manifest}", "--out", "mine"), 256, wd, now)
                .OutputDirectory);
    }
}
