using System.Text.Json;
using LifelongMoE.Model.Network;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Checkpoints;

/// <summary>
/// Model layout inside a checkpoint directory: trunk.safetensors holds every tensor that is not an expert's
/// under its PyTorch-style name (with the model config and experts-per-phase in its metadata), and
/// experts/L{block}-E{expert}.safetensors holds one expert (fc1.weight, fc1.bias, fc2.weight, fc2.bias).
/// </summary>
public static class ModelCheckpoint
{
    public const string TrunkFile = "trunk.safetensors";

    public static string ExpertFile(int block, int expert) =>
        $"experts/{MoeTransformer.ExpertId(block, expert)}.safetensors";

    public static void SaveTrunk(CheckpointWriter writer, MoeTransformer model) =>
        TrunkCheckpoint.Save(writer.PathOf(TrunkFile), model);

    public static void SaveExperts(CheckpointWriter writer, MoeTransformer model)
    {
        foreach (var (block, layer) in model.MoeLayers)
            for (int e = 0; e < layer.Experts.Count; e++)
                writer.WriteTensors(ExpertFile(block, e), layer.Experts[e].StateDict());
    }

    public static void Save(CheckpointWriter writer, MoeTransformer model)
    {
        SaveTrunk(writer, model);
        SaveExperts(writer, model);
    }

    /// <summary>The config and experts-per-phase recorded in a checkpoint's trunk file.</summary>
    public static (ModelConfig Config, int[] ExpertsPerPhase) ReadLayout(string dir)
    {
        var path = Path.Combine(dir, TrunkFile);
        using var scope = NewDisposeScope();
        SafeTensors.Load(path, out var meta);
        if (!meta.TryGetValue("config", out var config) || !meta.TryGetValue("experts_per_phase", out var phases))
            throw new CheckpointException(path, "metadata lacks 'config' or 'experts_per_phase'");
        return (JsonSerializer.Deserialize<ModelConfig>(config)!, phases.Split(',').Select(int.Parse).ToArray());
    }

    /// <summary>Builds a model from a checkpoint directory: layout from the trunk file, then every tensor.</summary>
    public static MoeTransformer Load(string dir)
    {
        var (config, perPhase) = ReadLayout(dir);
        var model = new MoeTransformer(config);
        model.GrowTo(perPhase);
        LoadInto(dir, model);
        return model;
    }

    /// <summary>Loads every tensor of a checkpoint into a model of the same layout.</summary>
    public static void LoadInto(string dir, MoeTransformer model)
    {
        TrunkCheckpoint.LoadInto(dir, model);
        using var scope = NewDisposeScope();
        foreach (var (block, layer) in model.MoeLayers)
        {
            for (int e = 0; e < layer.Experts.Count; e++)
            {
                var path = Path.Combine(dir, ExpertFile(block, e));
                try
                {
                    layer.Experts[e].LoadWeights(SafeTensors.Load(path));
                }
                catch (ArgumentException ex)
                {
                    throw new CheckpointException(path, ex.Message);
                }
            }
        }
    }
}
