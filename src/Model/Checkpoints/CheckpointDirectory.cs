using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Checkpoints;

/// <summary>
/// A checkpoint being written: files go into a hidden staging directory beside the final one; <see cref="Commit"/>
/// writes manifest.json (every file with its size and SHA-256) last and renames the directory into place, so a
/// directory with a name and a manifest is always complete, and an older checkpoint is never touched.
/// </summary>
public sealed class CheckpointWriter
{
    private readonly string finalPath;

    public CheckpointWriter(string root, string name)
    {
        Directory.CreateDirectory(root);
        finalPath = Path.Combine(Path.GetFullPath(root), name);
        if (Directory.Exists(finalPath))
            throw new CheckpointException(finalPath,
                "a checkpoint of that name already exists; it is never overwritten");
        StagingPath = Path.Combine(Path.GetFullPath(root), $".{name}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(StagingPath);
    }

    /// <summary>Where files of this checkpoint are written until it is committed.</summary>
    public string StagingPath { get; }

    public string PathOf(string relative) => Path.Combine(StagingPath, relative);

    public void WriteTensors(string relative, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensors.Save(PathOf(relative), tensors, metadata);

    public void WriteJson(string relative, JsonNode node) =>
        AtomicFile.WriteText(PathOf(relative), node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Writes the manifest and moves the checkpoint into place; returns its final path.</summary>
    public string Commit(IReadOnlyDictionary<string, string>? info = null)
    {
        var files = new JsonObject();
        var staged = Directory.GetFiles(StagingPath, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
        foreach (var file in staged)
        {
            var rel = Path.GetRelativePath(StagingPath, file).Replace('\\', '/');
            if (rel == CheckpointDirectory.ManifestName || Path.GetFileName(rel).StartsWith('.')) continue;
            files[rel] = new JsonObject
            {
                ["bytes"] = new FileInfo(file).Length, ["sha256"] = SafeTensors.Sha256(file),
            };
        }
        var manifest = new JsonObject
        {
            ["format"] = 1, ["created"] = DateTime.UtcNow.ToString("O"), ["files"] = files,
        };
        if (info is not null)
            manifest["info"] = new JsonObject(info.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        WriteJson(CheckpointDirectory.ManifestName, manifest);

        Directory.Move(StagingPath, finalPath);
        return finalPath;
    }

    /// <summary>Removes the staging directory of a checkpoint that will not be committed.</summary>
    public void Abandon()
    {
        if (Directory.Exists(StagingPath)) Directory.Delete(StagingPath, recursive: true);
    }
}

public static class CheckpointDirectory
{
    public const string ManifestName = "manifest.json";

    /// <summary>Checks that the manifest exists and every file it lists has the recorded size and checksum.</summary>
    public static void Verify(string dir)
    {
        var manifestPath = Path.Combine(dir, ManifestName);
        if (!File.Exists(manifestPath))
            throw new CheckpointException(dir, "no manifest.json: the checkpoint is incomplete");
        JsonObject files;
        try
        {
            files = JsonNode.Parse(File.ReadAllText(manifestPath))!["files"]!.AsObject();
        }
        catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException)
        {
            throw new CheckpointException(manifestPath, $"unreadable manifest ({e.Message})");
        }
        foreach (var (rel, entry) in files)
        {
            var path = Path.Combine(dir, rel);
            if (!File.Exists(path)) throw new CheckpointException(path, "listed in the manifest but missing");
            var expected = entry!["sha256"]!.GetValue<string>();
            if (SafeTensors.Sha256(path) != expected)
                throw new CheckpointException(path, "checksum does not match the manifest (corrupt or modified)");
        }
    }

    /// <summary>
    /// The newest complete, verified checkpoint under <paramref name="root"/> (by name order, so name them
    /// with zero-padded steps), or null. Damaged ones are skipped and reported through <paramref name="skipped"/>.
    /// </summary>
    public static string? LatestComplete(string root, Action<string>? skipped = null)
    {
        if (!Directory.Exists(root)) return null;
        foreach (var dir in Directory.GetDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.'))
                     .OrderByDescending(d => Path.GetFileName(d), StringComparer.Ordinal))
        {
            try
            {
                Verify(dir);
                return dir;
            }
            catch (CheckpointException e)
            {
                skipped?.Invoke(e.Message);
            }
        }
        return null;
    }
}
