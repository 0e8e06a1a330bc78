using LifelongMoE.Host.Cli;

namespace LifelongMoE.Host.Tests.Cli;

public class CommandLineSpec
{
    [Theory]
    [InlineData("train")]
    [InlineData("eval")]
    [InlineData("generate")]
    [InlineData("node")]
    [InlineData("status")]
    [InlineData("pause")]
    [InlineData("resume")]
    [InlineData("shift")]
    [InlineData("checkpoint")]
    [InlineData("bench")]
    [InlineData("corpora")]
    public void Every_verb_parses(string verb)
    {
        var command = CommandLine.Parse([verb]);

        Assert.Equal(verb, command.Verb);
        Assert.False(command.Help);
    }

    [Fact]
    public void Options_overrides_and_bare_key_values_are_collected_in_order()
    {
        var command = CommandLine.Parse(["train", "--preset", "tiny", "--config=extra.hocon",
            "--set", "train.lr=5e-4", "model.d-model=64", "--out", "runs/a", "--strategy", "finetune",
            "lifelong-moe.seed=7", "akka.loglevel=INFO", "--verbose"]);

        Assert.Equal("tiny", command.Preset);
        Assert.Equal("extra.hocon", command.ConfigFile);
        Assert.True(command.Verbose);
        Assert.Equal(new[]
        {
            new Override("lifelong-moe.train.lr", "5e-4"),
            new Override("lifelong-moe.model.d-model", "64"),
            new Override("lifelong-moe.out", "runs/a"),
            new Override("lifelong-moe.train.strategy", "finetune"),
            new Override("lifelong-moe.seed", "7"),
            new Override("akka.loglevel", "INFO"),
        }, command.Overrides);
    }

    [Fact]
    public void Options_may_come_before_the_verb()
    {
        var command = CommandLine.Parse(["--preset", "tiny", "seed=3", "train"]);

        Assert.Equal(("train", "tiny"), (command.Verb, command.Preset));
        Assert.Equal(new Override("lifelong-moe.seed", "3"), Assert.Single(command.Overrides));
    }

    [Fact]
    public void Verb_options_are_kept_by_name()
    {
        var command = CommandLine.Parse(["generate", "--checkpoint", "runs/a/checkpoints/x", "--prompt", "Once upon"]);

        Assert.Equal("runs/a/checkpoints/x", command.Options["checkpoint"]);
        Assert.Equal("Once upon", command.Options["prompt"]);
    }

    [Fact]
    public void Generate_options_read_as_numbers_with_their_defaults()
    {
        var command = CommandLine.Parse(["generate", "--checkpoint", "c", "--max-tokens", "50", "--temperature=0",
            "--top-k", "5", "--seed", "7"]);

        Assert.Equal("c", command.RequiredOption("checkpoint", "DIR"));
        Assert.Equal(50, command.WholeNumberOption("max-tokens", 200, min: 1));
        Assert.Equal(0.0, command.NumberOption("temperature", 0.8, min: 0));
        Assert.Equal((5, 7), (command.WholeNumberOption("top-k", 0), command.WholeNumberOption("seed", 1234)));

        var defaults = CommandLine.Parse(["generate"]);
        Assert.Equal(200, defaults.WholeNumberOption("max-tokens", 200, min: 1));
        Assert.Equal(0.8, defaults.NumberOption("temperature", 0.8, min: 0));
        var missing = Assert.Throws<UsageException>(() => defaults.RequiredOption("checkpoint", "DIR"));
        Assert.Equal("'generate' needs --checkpoint DIR", missing.Message);
    }

    [Theory]
    [InlineData("--max-tokens 0: expected a positive whole number", "--max-tokens", "0")]
    [InlineData("--max-tokens 1.5: expected a positive whole number", "--max-tokens", "1.5")]
    [InlineData("--top-k -1: expected a whole number of at least 0", "--top-k", "-1")]
    [InlineData("--seed x: expected a whole number of at least 0", "--seed", "x")]
    [InlineData("--temperature -0.5: expected a number of at least 0", "--temperature", "-0.5")]
    [InlineData("--temperature NaN: expected a number of at least 0", "--temperature", "NaN")]
    public void A_generate_option_out_of_range_names_the_option_and_what_it_takes(string message, string name,
        string value)
    {
        var command = CommandLine.Parse(["generate", name, value]);

        var e = Assert.Throws<UsageException>(() =>
        {
            command.WholeNumberOption("max-tokens", 200, min: 1);
            command.WholeNumberOption("top-k", 0);
            command.WholeNumberOption("seed", 0);
            command.NumberOption("temperature", 0.8, min: 0);
        });
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Report_takes_one_or_two_paths_and_no_overrides()
    {
        Assert.Equal(new[] { "a/report.json", "b" }, CommandLine.Parse(["report", "a/report.json", "b"]).Arguments);
        Assert.Throws<UsageException>(() => CommandLine.Parse(["report"]));
        Assert.Throws<UsageException>(() => CommandLine.Parse(["report", "a", "b", "c"]));
        Assert.Throws<UsageException>(() => CommandLine.Parse(["report", "a", "--preset", "tiny"]));
    }

    [Theory]
    [InlineData("unknown verb 'trian'", "trian")]
    [InlineData("unknown option '--bogus'", "train", "--bogus", "1")]
    [InlineData("unknown option '--bogus=1'", "train", "--bogus=1")]
    [InlineData("option '--out' needs a value", "train", "--out")]
    [InlineData("option '--prompt' does not apply to 'train'", "train", "--prompt", "x")]
    [InlineData("option '--port' does not apply to 'status'", "--port", "5", "status")]
    [InlineData("unexpected argument 'extra' for 'train'", "train", "extra")]
    [InlineData("expected key=value, got '--set =3'", "train", "--set", "=3")]
    [InlineData("'a b' is not a configuration key", "train", "a b=3")]
    public void A_malformed_command_line_is_a_usage_error(string message, params string[] args)
    {
        var e = Assert.Throws<UsageException>(() => CommandLine.Parse(args));

        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Help_is_asked_for_with_h_help_or_no_arguments()
    {
        Assert.True(CommandLine.Parse(["--help"]).Help);
        Assert.True(CommandLine.Parse(["-h"]).Help);
        Assert.True(CommandLine.Parse(["help"]).Help);
        Assert.True(CommandLine.Parse(["train", "--help"]).Help);
        Assert.True(CommandLine.Parse([]).Help);
    }
}
