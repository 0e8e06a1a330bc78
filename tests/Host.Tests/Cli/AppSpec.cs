using Akka.Configuration;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Commands;
using LifelongMoE.Host.Configuration;
using LifelongMoE.Host.Reports;
using LifelongMoE.Host.Tests.Reports;

namespace LifelongMoE.Host.Tests.Cli;

/// <summary>Whole command lines through <see cref="App"/>, a scripted run in place of the actors.</summary>
public class AppSpec
{
    private readonly TestConsole console = new();
    private readonly StringWriter output = new();
    private readonly StringWriter error = new();
    private readonly List<(Config Config, RunSettings Settings)> runs = [];

    private Task<RunReport> ScriptedRun(Config config, RunSettings settings, Action<TrainingProgress> onProgress,
        CancellationToken ct)
    {
        runs.Add((config, settings));
        var names = new[] { "fiction", "scripture" };
        for (int phase = 1; phase <= 2; phase++)
        for (int step = 1; step <= 10; step++)
        {
            onProgress(new TrainingProgress(phase, 2, names[phase - 1], step, 10, 3.0 - step * 0.1, 2.9, 0.1,
                1000, TimeSpan.FromSeconds(20 - step), 2 + phase, 0));
        }

        return Task.FromResult(ReportWriterSpec.SampleReport());
    }

    private int Run(params string[] args) =>
        new App(console.Console, output, error, interactive: false, ScriptedRun).RunAsync(args, CancellationToken.None)
            .GetAwaiter().GetResult();

    [Fact]
    public void Train_runs_with_the_bound_settings_and_writes_report_settings_and_events()
    {
        var outDir = Repository.TempDirectory("train");

        int code = Run("train", "--preset", "tiny", "--out", outDir, "train.steps-per-phase=10");

        Assert.True(code == 0, error.ToString());
        var (_, settings) = Assert.Single(runs);
        Assert.Equal((10, 32, outDir), (settings.StepsPerPhase, settings.Model.DModel, settings.OutputDirectory));
        Assert.True(File.Exists(Path.Combine(outDir, ReportWriter.JsonFile)));
        Assert.True(File.Exists(Path.Combine(outDir, ReportWriter.MarkdownFile)));
        Assert.Single(Directory.GetFiles(outDir, "events.out.tfevents.*"));
        Assert.Contains("phase 1/2 fiction step 1/10 loss 2.900", output.ToString());
        Assert.Contains("phase 2/2 scripture step 10/10", output.ToString());
        Assert.Contains("held-out bits per byte", console.Text);
        Assert.Contains("1.234", console.Text);

        // settings.hocon is HOCON that binds to the same settings.
        var written = ConfigurationFactory.ParseString(
            File.ReadAllText(Path.Combine(outDir, TrainCommand.SettingsFile)));
        var again = RunSettingsBinding.FromConfig(written, 256);
        Assert.Equal(settings.Model, again.Model);
        Assert.Equal(settings.Train, again.Train);
        Assert.Equal(settings.Growth, again.Growth);
    }

    [Fact]
    public void A_train_stopped_with_ctrl_c_still_reports_and_exits_130()
    {
        var outDir = Repository.TempDirectory("stopped");
        using var stop = new CancellationTokenSource();
        stop.Cancel();

        int code = new App(console.Console, output, error, interactive: false, ScriptedRun)
            .RunAsync(["train", "--preset", "tiny", "--out", outDir], stop.Token).GetAwaiter().GetResult();

        Assert.Equal(Usage.Cancelled, code);
        Assert.True(File.Exists(Path.Combine(outDir, ReportWriter.JsonFile)));
        Assert.Contains("stopped by request after 3 complete phase(s)", console.Text);
    }

    [Fact]
    public void Train_refuses_an_output_directory_that_holds_a_finished_run()
    {
        var outDir = Repository.TempDirectory("finished");
        File.WriteAllText(Path.Combine(outDir, ReportWriter.JsonFile), "{}");

        Assert.Equal(Usage.Failed, Run("train", "--preset", "tiny", "--out", outDir));
        Assert.Contains("lifelong-moe.out", error.ToString());
        Assert.Empty(runs);
    }

    [Theory]
    [InlineData("unknown verb 'trian'", "trian")]
    [InlineData("unknown option '--fast'", "train", "--fast")]
    [InlineData("unknown preset 'huge'", "train", "--preset", "huge")]
    [InlineData("--config: no such file", "train", "--config", "/nonexistent/extra.hocon")]
    [InlineData("no verb given")]
    public void A_bad_command_line_exits_2_with_the_message_and_usage(string message, params string[] args)
    {
        Assert.Equal(Usage.BadUsage, Run(args));
        Assert.Contains(message, error.ToString());
        Assert.Contains("usage: lifelongmoe VERB", error.ToString());
        Assert.Empty(runs);
    }

    [Fact]
    public void Help_exits_0_with_the_usage_on_standard_output()
    {
        Assert.Equal(Usage.Ok, Run("--help"));
        Assert.Contains("usage: lifelongmoe VERB", output.ToString());
    }

    [Fact]
    public void A_settings_error_exits_1_with_one_line_and_no_stack_trace()
    {
        Assert.Equal(Usage.Failed, Run("train", "train.strategy=grow"));

        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("lifelongmoe: error: lifelong-moe.train.strategy = \"grow\": expected lifelong or finetune",
            Assert.Single(lines).TrimEnd());
        Assert.Empty(runs);
    }

    [Fact]
    public void Verbose_adds_the_stack_trace()
    {
        Assert.Equal(Usage.Failed, Run("train", "train.strategy=grow", "--verbose"));

        Assert.Contains("   at ", error.ToString());
    }

    [Fact]
    public void A_corpus_error_exits_1_naming_the_manifest()
    {
        var dir = Repository.TempDirectory("corpus");
        var manifest = Path.Combine(dir, "manifest.hocon");
        File.WriteAllText(manifest, "corpora.distributions.a { files = [\"a.jsonl\"], format = jsonn }");

        Assert.Equal(Usage.Failed, Run("corpora", $"corpus-manifest={manifest}"));
        Assert.Contains($"lifelongmoe: error: {manifest}: corpora.distributions.a.format = \"jsonn\"",
            error.ToString());
    }

    [Fact]
    public void Corpora_prints_a_row_per_distribution()
    {
        Assert.Equal(Usage.Ok, Run("corpora", "distributions=[legal]"));

        Assert.Contains("legal", console.Text);
        Assert.Contains("held out", console.Text);
        Assert.DoesNotContain("fiction", console.Text);
    }

    [Fact]
    public void Report_prints_one_run_or_compares_two()
    {
        var a = Repository.TempDirectory("report-a");
        var b = Repository.TempDirectory("report-b");
        ReportWriter.Write(a, ReportWriterSpec.SampleReport());
        ReportWriter.Write(b, ReportWriterSpec.SampleReport() with { Strategy = "finetune" });

        Assert.Equal(Usage.Ok, Run("report", Path.Combine(a, "report.json"), b));

        Assert.Contains("comparison", console.Text);
        Assert.Contains("mean forgetting", console.Text);
        Assert.Contains("finetune", console.Text);
    }

    [Fact]
    public void A_report_that_is_not_there_exits_1()
    {
        Assert.Equal(Usage.Failed, Run("report", "/nonexistent/report.json"));
        Assert.Contains("no such report", error.ToString());
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("generate")]
    public void Eval_and_generate_validate_the_configuration_then_need_a_checkpoint(string verb)
    {
        Assert.Equal(Usage.Failed, Run(verb, "train.strategy=grow"));
        Assert.Contains("lifelong-moe.train.strategy", error.ToString());

        Assert.Equal(Usage.BadUsage, Run(verb));
        Assert.Contains($"'{verb}' needs --checkpoint DIR", error.ToString());
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("generate")]
    public void A_checkpoint_that_is_not_there_exits_1_naming_it(string verb)
    {
        var missing = Path.Combine(Repository.TempDirectory("no-checkpoint"), "00000020-fiction-end");

        Assert.Equal(Usage.Failed, Run(verb, "--checkpoint", missing));

        Assert.Equal($"lifelongmoe: error: {missing}: no such checkpoint directory",
            error.ToString().TrimEnd());
    }

    [Fact]
    public void A_run_directory_without_a_complete_checkpoint_exits_1_naming_its_checkpoints_folder()
    {
        var run = Repository.TempDirectory("no-complete-checkpoint");
        Directory.CreateDirectory(Path.Combine(run, "checkpoints", "00000020-fiction-end"));

        Assert.Equal(Usage.Failed, Run("eval", "--checkpoint", run));

        Assert.Contains("warning: passed over", console.Text);
        Assert.Contains($"lifelongmoe: error: {Path.Combine(run, "checkpoints")}: holds no complete checkpoint",
            error.ToString());
    }

    [Fact]
    public void Generate_options_are_checked_before_the_checkpoint_is_read()
    {
        Assert.Equal(Usage.BadUsage, Run("generate", "--checkpoint", "/nonexistent", "--temperature", "-1"));
        Assert.Contains("--temperature -1: expected a number of at least 0", error.ToString());
    }

    [Fact]
    public void Bench_steps_must_be_a_positive_number()
    {
        Assert.Equal(Usage.BadUsage, Run("bench", "--steps", "none"));
        Assert.Contains("--steps none: expected a positive whole number", error.ToString());
    }

    [Fact]
    public void Control_verbs_without_a_running_training_say_how_to_name_one()
    {
        var outDir = Repository.TempDirectory("no-cluster");

        Assert.Equal(Usage.Failed, Run("status", "--out", outDir));
        Assert.Contains("cluster.json: no such file", error.ToString());
    }
}
