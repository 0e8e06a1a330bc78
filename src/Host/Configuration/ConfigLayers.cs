using System.Text.RegularExpressions;
using Akka.Configuration;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Logging;

namespace LifelongMoE.Host.Configuration;

/// <summary>A HOCON file of the configuration cannot be read or parsed. Exit code 1.</summary>
internal sealed class ConfigFileException(string path, string problem, Exception? inner = null)
    : Exception($"{path}: {problem}", inner);

/// <summary>
/// Builds the configuration of a command: hocon/base.hocon &lt; preset &lt; --config file &lt; overrides, with
/// Akka's log lines sent through <see cref="ConsoleLogger"/>.
/// hocon/ is looked for in the repository above the working directory, then above the executable, then
/// beside the executable (the build copies it there).
/// </summary>
internal static class ConfigLayers
{
    public const string DefaultPreset = "default";

    /// <summary>What this executable adds over base.hocon, below every other layer.</summary>
    private static readonly Config HostDefaults =
        ConfigurationFactory.ParseString($"akka.loggers = [\"{ConsoleLogger.TypeName}\"]");

    private static readonly Regex PlainValue = new(
        @"^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|on|off|yes|no|null)$", RegexOptions.CultureInvariant);

    /// <exception cref="UsageException">an unknown preset, or a missing --config file</exception>
    /// <exception cref="ConfigFileException">a HOCON file that cannot be read</exception>
    public static Config Load(CommandLine command, string? hoconDirectory = null)
    {
        var hocon = hoconDirectory ?? FindHoconDirectory();
        var config = HostDefaults.WithFallback(ParseFile(Path.Combine(hocon, "base.hocon")));
        config = ParseFile(PresetPath(command.Preset ?? DefaultPreset, hocon)).WithFallback(config);

        if (command.ConfigFile is { } extra)
        {
            if (!File.Exists(extra)) throw new UsageException($"--config: no such file '{extra}'");
            config = ParseFile(extra).WithFallback(config);
        }

        foreach (var o in command.Overrides) config = ParseOverride(o).WithFallback(config);
        return config;
    }

    /// <summary>The names of the presets in hocon/presets, sorted.</summary>
    public static IReadOnlyList<string> PresetNames(string hoconDirectory)
    {
        var dir = Path.Combine(hoconDirectory, "presets");
        if (!Directory.Exists(dir)) return [];
        return Directory.GetFiles(dir, "*.hocon").Select(f => Path.GetFileNameWithoutExtension(f)!)
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <exception cref="UsageException">neither a preset name nor an existing .hocon file</exception>
    public static string PresetPath(string preset, string hoconDirectory)
    {
        var named = Path.Combine(hoconDirectory, "presets", preset + ".hocon");
        if (File.Exists(named)) return Path.GetFullPath(named);

        bool looksLikePath = preset.EndsWith(".hocon") || preset.EndsWith(".conf") || preset.Contains('/');
        if (looksLikePath && File.Exists(preset)) return Path.GetFullPath(preset);

        var names = string.Join(", ", PresetNames(hoconDirectory));
        throw new UsageException(looksLikePath
            ? $"--preset: no such file '{preset}'"
            : $"unknown preset '{preset}': expected {names}, or the path of a .hocon file");
    }

    /// <exception cref="ConfigFileException">no hocon/base.hocon anywhere it is looked for</exception>
    public static string FindHoconDirectory()
    {
        var candidates = new List<string>();
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            if (RunSettingsBinding.FindRepositoryRoot(start) is { } repo) candidates.Add(Path.Combine(repo, "hocon"));
        }

        candidates.Add(Path.Combine(AppContext.BaseDirectory, "hocon"));
        return candidates.FirstOrDefault(dir => File.Exists(Path.Combine(dir, "base.hocon")))
            ?? throw new ConfigFileException(
                "hocon/base.hocon", $"not found (looked in {string.Join(", ", candidates)})");
    }

    /// <summary>
    /// One override as HOCON. Lists, objects, quoted strings, numbers and booleans are taken as written; any
    /// other value is quoted, so paths and "cuda:0" need no shell gymnastics.
    /// </summary>
    public static Config ParseOverride(Override o)
    {
        var v = o.Value;
        bool raw = v.StartsWith('[') || v.StartsWith('{') || v.StartsWith('"') || PlainValue.IsMatch(v);
        var text = $"{o.Key} = {(raw ? v : Quote(v))}";

        Config parsed;
        try
        {
            parsed = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new UsageException($"cannot read override {o.Key}={o.Value}: {e.Message}");
        }

        if (!parsed.HasPath(o.Key)) throw new UsageException($"cannot read override {o.Key}={o.Value}");
        return parsed;
    }

    private static Config ParseFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigFileException(path, e.Message, e);
        }

        // Akka's parser forgives unbalanced braces and stray text (it reads what it can and drops the rest),
        // so a broken file would silently fall back to defaults: check the structure first.
        var problem = StructureProblem(text);
        if (problem is not null) throw new ConfigFileException(path, $"not valid HOCON: {problem}");

        Config parsed;
        try
        {
            parsed = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ConfigFileException(path, $"not valid HOCON: {e.Message}", e);
        }
        if (parsed.IsEmpty && HasContent(text))
            throw new ConfigFileException(path, "not valid HOCON: no key = value could be read from it");
        return parsed;
    }

    /// <summary>Unbalanced braces or brackets (outside strings and comments), with the line, or null.</summary>
    internal static string? StructureProblem(string text)
    {
        var open = new Stack<(char Bracket, int Line)>();
        int line = 1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\n')
            {
                line++;
            }
            else if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i + 1 < text.Length && text[i + 1] != '\n') i++;
            }
            else if (c == '"')
            {
                while (++i < text.Length && text[i] != '"' && text[i] != '\n')
                {
                    if (text[i] == '\\') i++;
                }
            }
            else if (c is '{' or '[')
            {
                open.Push((c, line));
            }
            else if (c is '}' or ']')
            {
                char expected = c == '}' ? '{' : '[';
                if (open.Count == 0 || open.Peek().Bracket != expected) return $"line {line}: unexpected '{c}'";
                open.Pop();
            }
        }
        return open.Count == 0 ? null : $"line {open.Peek().Line}: '{open.Peek().Bracket}' is never closed";
    }

    private static bool HasContent(string text) => text.Split('\n')
        .Select(l => l.Trim())
        .Any(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith("//"));

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
