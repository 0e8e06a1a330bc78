using Akka.Configuration;
using Akka.Configuration.Hocon;
using LifelongMoE.Model.Data;

namespace LifelongMoE.Actors.Training;

/// <summary>
/// Reads a corpus manifest (HOCON, see data/manifest.hocon):
/// <code>
/// corpora {
///   root = "."                      # relative to the manifest's folder
///   order = [a, b]                  # stream order; optional, else the order of `distributions`
///   distributions {
///     a { files = ["a/*.txt"], format = text, split = blank-line, compression = auto }
///     b { files = ["b.jsonl.gz"], format = jsonl, text-field = text }
///   }
///   holdout { every = 20, offset = 19 }
/// }
/// </code>
/// A file name may hold * and ? in its last segment; matches are taken in ordinal order. Every error is a
/// <see cref="CorpusException"/> naming the manifest and the key at fault.
/// </summary>
public static class CorpusManifestLoader
{
    private static readonly string[] DistributionKeys = ["files", "format", "text-field", "compression", "split"];

    public static (IReadOnlyList<DistributionSpec> Distributions, HoldoutRule Holdout) Load(string manifestPath)
    {
        var path = Path.GetFullPath(manifestPath);
        if (!File.Exists(path)) throw new CorpusException(path, "no such corpus manifest");

        var config = Parse(path);
        var manifest = new Manifest(path, config);
        if (!config.HasPath("corpora"))
            throw manifest.Error("corpora", null, "missing: the manifest has no corpora section");

        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, manifest.Text("corpora.root", ".")));
        var defined = manifest.ObjectKeys("corpora.distributions");
        if (defined.Count == 0) throw manifest.Error("corpora.distributions", null, "defines no distribution");

        var order = Order(manifest, defined);
        var distributions = order.Select(name => Distribution(manifest, name, root)).ToList();
        return (distributions, Holdout(manifest));
    }

    private static Config Parse(string path)
    {
        try
        {
            return ConfigurationFactory.ParseString(File.ReadAllText(path));
        }
        catch (Exception e) when (e is not CorpusException and not OutOfMemoryException)
        {
            throw new CorpusException(path, $"not valid HOCON: {e.Message}", inner: e);
        }
    }

    private static IReadOnlyList<string> Order(Manifest m, IReadOnlyList<string> defined)
    {
        if (!m.Config.HasPath("corpora.order")) return defined;

        var order = m.List("corpora.order");
        var shown = "[" + string.Join(", ", order) + "]";
        if (order.Count == 0) throw m.Error("corpora.order", shown, "lists no distribution");

        foreach (var name in order)
        {
            if (!defined.Contains(name))
                throw m.Error("corpora.order", shown, $"\"{name}\" has no entry under corpora.distributions");
        }

        var repeated = order.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null) throw m.Error("corpora.order", shown, $"\"{repeated.Key}\" is listed twice");

        var missing = defined.FirstOrDefault(n => !order.Contains(n));
        if (missing is not null)
            throw m.Error($"corpora.distributions.{missing}", null,
                "is not in corpora.order; add it there (lifelong-moe.distributions picks a subset for a run)");

        return order;
    }

    private static DistributionSpec Distribution(Manifest m, string name, string root)
    {
        var key = $"corpora.distributions.{name}";
        var unknown = m.ObjectKeys(key).FirstOrDefault(k => !DistributionKeys.Contains(k));
        if (unknown is not null)
            throw m.Error($"{key}.{unknown}", null, $"unknown key; expected {string.Join(", ", DistributionKeys)}");

        var format = m.Text($"{key}.format", "jsonl") switch
        {
            "jsonl" => CorpusFormat.JsonLines,
            "text" => CorpusFormat.Text,
            var other => throw m.Error($"{key}.format", Quote(other), "expected jsonl or text"),
        };

        var compression = m.Text($"{key}.compression", "auto") switch
        {
            "auto" => Compression.Auto,
            "none" => Compression.None,
            "gzip" => Compression.Gzip,
            "zstd" => Compression.Zstd,
            var other => throw m.Error($"{key}.compression", Quote(other), "expected auto, none, gzip or zstd"),
        };

        var textField = m.Text($"{key}.text-field", "text");
        if (format == CorpusFormat.JsonLines && textField.Length == 0)
            throw m.Error($"{key}.text-field", "\"\"", "expected the name of the JSON field holding the text");

        var files = Files(m, $"{key}.files", root);
        return new DistributionSpec(name, files, format, textField, compression, Split(m, key));
    }

    private static DocumentSplit Split(Manifest m, string key)
    {
        var value = m.Text($"{key}.split", "blank-line");
        try
        {
            return DocumentSplit.Parse(value);
        }
        catch (ArgumentException e)
        {
            throw m.Error($"{key}.split", Quote(value),
                "expected line, blank-line, whole-file or a one-line separator", e);
        }
    }

    private static IReadOnlyList<string> Files(Manifest m, string key, string root)
    {
        if (!m.Config.HasPath(key)) throw m.Error(key, null, "missing: list the distribution's files");

        var listed = m.List(key);
        if (listed.Count == 0) throw m.Error(key, "[]", "lists no file");

        var files = new List<string>();
        for (int i = 0; i < listed.Count; i++)
        {
            var entry = listed[i];
            var full = Path.GetFullPath(Path.Combine(root, entry));
            var name = Path.GetFileName(full);
            if (name.IndexOfAny(['*', '?']) < 0)
            {
                if (!File.Exists(full)) throw m.Error($"{key}[{i}]", Quote(entry), $"no such file ({full})");
                files.Add(full);
                continue;
            }

            var dir = Path.GetDirectoryName(full)!;
            var matches = Directory.Exists(dir)
                ? Directory.GetFiles(dir, name).OrderBy(f => f, StringComparer.Ordinal).ToList()
                : [];
            if (matches.Count == 0) throw m.Error($"{key}[{i}]", Quote(entry), $"matches no file ({full})");
            files.AddRange(matches);
        }

        return files;
    }

    private static HoldoutRule Holdout(Manifest m)
    {
        int every = m.Int("corpora.holdout.every", HoldoutRule.Default.Every);
        int offset = m.Int("corpora.holdout.offset", HoldoutRule.Default.Offset);
        if (every < 1) throw m.Error("corpora.holdout.every", every.ToString(), "must be at least 1");
        if (offset < 0 || offset >= every)
            throw m.Error("corpora.holdout.offset", offset.ToString(), $"must be in [0, {every}) (every = {every})");

        return new HoldoutRule(every, offset);
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>One parsed manifest, with typed reads that name the file and the key when they fail.</summary>
    private sealed record Manifest(string ManifestPath, Config Config)
    {
        public CorpusException Error(string key, string? value, string problem, Exception? inner = null) =>
            new(ManifestPath, value is null ? $"{key}: {problem}" : $"{key} = {value}: {problem}", inner: inner);

        public string Text(string key, string fallback)
        {
            if (!Config.HasPath(key)) return fallback;

            var value = Config.GetValue(key);
            if (!value.IsString()) throw Error(key, null, "expected a single value");
            return value.GetString() ?? "";
        }

        public int Int(string key, int fallback)
        {
            if (!Config.HasPath(key)) return fallback;

            var text = Text(key, "");
            try
            {
                return Config.GetInt(key);
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw Error(key, Quote(text), "expected a whole number", e);
            }
        }

        /// <summary>A list of names, or a single name standing for a list of one.</summary>
        public IReadOnlyList<string> List(string key)
        {
            // Akka's parser reports an empty list as neither a list nor a string.
            var value = Config.GetValue(key);
            if (value.IsObject()) throw Error(key, null, "expected a list");
            if (!value.IsArray()) return value.IsString() ? [value.GetString()] : [];

            var items = value.GetArray();
            if (items.Any(v => v.IsObject() || v.IsArray())) throw Error(key, null, "expected a list of strings");
            return items.Select(v => v.GetString()).ToList();
        }

        public IReadOnlyList<string> ObjectKeys(string key)
        {
            if (!Config.HasPath(key)) throw Error(key, null, "missing");

            var value = Config.GetValue(key);
            if (!value.IsObject()) throw Error(key, null, "expected an object");
            return value.GetObject().Items.Keys.ToList();
        }
    }
}
