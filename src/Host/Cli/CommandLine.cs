using System.Globalization;
using System.Text.RegularExpressions;

namespace LifelongMoE.Host.Cli;

/// <summary>
/// The command line is malformed: an unknown verb, option or preset, or a missing value. Exit code 2.
/// </summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>One override from the command line, its key in full (<c>lifelong-moe.</c> added).</summary>
internal sealed record Override(string Key, string Value);

/// <summary>A parsed command line: the verb, its configuration layers and overrides, and its own options.</summary>
/// <param name="Options">verb-specific options by name without dashes, e.g. "checkpoint" -> "runs/x/step-300"</param>
/// <param name="Arguments">positional arguments after the verb (shift NAME, report FILE...)</param>
internal sealed record CommandLine(
    string Verb,
    string? Preset,
    string? ConfigFile,
    IReadOnlyList<Override> Overrides,
    IReadOnlyDictionary<string, string> Options,
    IReadOnlyList<string> Arguments,
    bool Verbose,
    bool Help)
{
    /// <summary>The verbs and, for each, its own options and how many positional arguments it takes.</summary>
    public static IReadOnlyDictionary<string, VerbSpec> Verbs { get; } = new Dictionary<string, VerbSpec>
    {
        ["train"] = new(true, []),
        ["eval"] = new(true, ["checkpoint"]),
        ["generate"] = new(true, ["checkpoint", "prompt", "max-tokens", "temperature", "top-k", "seed"]),
        ["node"] = new(true, ["seed-node", "port"]),
        ["status"] = new(true, ["seed-node"]),
        ["pause"] = new(true, ["seed-node"]),
        ["resume"] = new(true, ["seed-node"]),
        ["shift"] = new(true, ["seed-node"]),
        ["checkpoint"] = new(true, ["seed-node"]),
        ["bench"] = new(true, ["steps"]),
        ["corpora"] = new(true, []),
        ["report"] = new(false, [], MinArguments: 1, MaxArguments: 2, ArgumentName: "REPORT.json"),
    };

    /// <summary>Options that configuration verbs share; --out and --strategy are shorthands for overrides.</summary>
    private static readonly string[] ConfigOptions = ["preset", "config", "out", "strategy", "set"];

    private static readonly Regex KeyPattern =
        new(@"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", RegexOptions.CultureInvariant);

    /// <exception cref="UsageException">the arguments do not form a valid command</exception>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        string? verb = null, preset = null, configFile = null;
        bool verbose = false, help = false;
        var overrides = new List<Override>();
        var options = new Dictionary<string, string>();
        var arguments = new List<string>();

        for (int i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help" || (arg == "help" && verb is null))
            {
                help = true;
                continue;
            }

            if (arg is "-v" or "--verbose")
            {
                verbose = true;
                continue;
            }

            if (arg.StartsWith('-'))
            {
                var (name, value) = OptionWithValue(args, ref i);
                switch (name)
                {
                    case "preset": preset = value; break;
                    case "config": configFile = value; break;
                    case "out": overrides.Add(new Override("lifelong-moe.out", value)); break;
                    case "strategy": overrides.Add(new Override("lifelong-moe.train.strategy", value)); break;
                    case "set": overrides.Add(ParseOverride(value, $"--set {value}")); break;
                    default: options[name] = value; break;
                }

                RequireKnownOption(verb, name, arg);
                continue;
            }

            if (verb is null && !arg.Contains('='))
            {
                verb = arg;
                if (!Verbs.ContainsKey(verb)) throw new UsageException($"unknown verb '{verb}'");
                continue;
            }

            if (arg.Contains('=') && verb != "report") overrides.Add(ParseOverride(arg, arg));
            else arguments.Add(arg);
        }

        if (help || verb is null)
            return new CommandLine(verb ?? "", preset, configFile, overrides, options, arguments, verbose, true);

        Validate(verb, preset, configFile, overrides, options, arguments);
        return new CommandLine(verb, preset, configFile, overrides, options, arguments, verbose, false);
    }

    /// <summary>The value of a verb option the verb cannot do without.</summary>
    /// <exception cref="UsageException">the option is not given</exception>
    public string RequiredOption(string name, string placeholder) =>
        Options.TryGetValue(name, out var value)
            ? value
            : throw new UsageException($"'{Verb}' needs --{name} {placeholder}");

    /// <summary>A whole-number verb option of at least <paramref name="min"/>, or the fallback if not given.</summary>
    /// <exception cref="UsageException">the value is not such a number</exception>
    public int WholeNumberOption(string name, int fallback, int min = 0)
    {
        if (!Options.TryGetValue(name, out var text)) return fallback;

        var expected = min == 1 ? "a positive whole number" : $"a whole number of at least {min}";
        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
               && value >= min
            ? value
            : throw new UsageException($"--{name} {text}: expected {expected}");
    }

    /// <summary>A finite number option of at least <paramref name="min"/>, or the fallback when not given.</summary>
    /// <exception cref="UsageException">the value is not such a number</exception>
    public double NumberOption(string name, double fallback, double min)
    {
        if (!Options.TryGetValue(name, out var text)) return fallback;

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
               && double.IsFinite(value) && value >= min
            ? value
            : throw new UsageException(
                $"--{name} {text}: expected a number of at least {min.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// Reads "key=value" (the key with or without "lifelong-moe."). Keys under akka and the dispatchers of
    /// base.hocon are taken as they are; anything else is a lifelong-moe key.
    /// </summary>
    public static Override ParseOverride(string text, string shownAs)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new UsageException($"expected key=value, got '{shownAs}'");

        var key = text[..eq].Trim();
        var value = text[(eq + 1)..].Trim();
        if (!KeyPattern.IsMatch(key)) throw new UsageException($"'{key}' is not a configuration key (in '{shownAs}')");

        bool qualified = key.StartsWith("lifelong-moe.") || key.StartsWith("akka.")
            || key.StartsWith("torch-dispatcher.") || key.StartsWith("gating-dispatcher.");
        return new Override(qualified ? key : "lifelong-moe." + key, value);
    }

    /// <summary>The option's name and value: "--name value" or "--name=value".</summary>
    private static (string Name, string Value) OptionWithValue(IReadOnlyList<string> args, ref int i)
    {
        var arg = args[i];
        var body = arg.TrimStart('-');
        int eq = body.IndexOf('=');
        if (eq >= 0) return (body[..eq], body[(eq + 1)..]);

        if (!KnownOption(body)) throw new UsageException($"unknown option '{arg}'");
        if (i + 1 >= args.Count) throw new UsageException($"option '{arg}' needs a value");
        i++;
        return (body, args[i]);
    }

    private static bool KnownOption(string name) =>
        ConfigOptions.Contains(name) || Verbs.Values.Any(v => v.Options.Contains(name));

    private static void RequireKnownOption(string? verb, string name, string shownAs)
    {
        if (!KnownOption(name)) throw new UsageException($"unknown option '{shownAs}'");
        if (verb is null) return;

        var spec = Verbs[verb];
        bool allowed = spec.Options.Contains(name) || (spec.UsesConfiguration && ConfigOptions.Contains(name));
        if (!allowed) throw new UsageException($"option '--{name}' does not apply to '{verb}'");
    }

    private static void Validate(
        string verb, string? preset, string? configFile, List<Override> overrides,
        Dictionary<string, string> options, List<string> arguments)
    {
        var spec = Verbs[verb];

        // Options given before the verb were accepted without knowing it; check them now.
        foreach (var name in options.Keys) RequireKnownOption(verb, name, "--" + name);
        if (!spec.UsesConfiguration && (preset is not null || configFile is not null || overrides.Count > 0))
            throw new UsageException($"'{verb}' takes no configuration options or overrides");

        if (arguments.Count < spec.MinArguments)
            throw new UsageException($"'{verb}' needs {spec.ArgumentName}");
        if (arguments.Count > spec.MaxArguments)
            throw new UsageException($"unexpected argument '{arguments[spec.MaxArguments]}' for '{verb}'");
    }
}

/// <param name="UsesConfiguration">whether the verb loads the HOCON configuration (--preset, --set, ...)</param>
internal sealed record VerbSpec(
    bool UsesConfiguration,
    string[] Options,
    int MinArguments = 0,
    int MaxArguments = 0,
    string ArgumentName = "");
