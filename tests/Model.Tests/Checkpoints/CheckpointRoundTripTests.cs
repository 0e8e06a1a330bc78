using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Checkpoints;

/// <summary>Saving a model and loading it into a fresh one restores every tensor bit for bit.</summary>
[Collection(SerialTorchCollection.Name)]
public sealed class CheckpointRoundTripTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"lmoe-ckpt-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void A_trained_model_round_trips_bitwise()
    {
        using var model = Trained(grow: false);

        using var loaded = SaveAndLoad(model, "step-000010");

        AssertSameTensors(model, loaded);
    }

    [Fact]
    public void A_grown_model_round_trips_bitwise_with_its_phases_and_experts()
    {
        using var model = Trained(grow: true);

        using var loaded = SaveAndLoad(model, "step-000020");

        Assert.Equal(new[] { 4, 2 }, loaded.ExpertsPerPhase());
        Assert.Equal(model.Config, loaded.Config);
        AssertSameTensors(model, loaded);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var idx = tensor(TinyModels.Tokens(2, 15, 32, 3), new long[] { 2, 16 });
        Assert.True(TinyModels.Identical(model.Forward(idx).Logits, loaded.Forward(idx).Logits));
    }

    [Fact]
    public void The_checkpoint_has_one_file_per_expert_a_trunk_file_and_a_manifest()
    {
        using var model = Trained(grow: true);
        var writer = new CheckpointWriter(root, "step-000001");
        ModelCheckpoint.Save(writer, model);

        var dir = writer.Commit();

        var files = Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        var expected = Enumerable.Range(0, 6).Select(e => $"experts/L1-E{e}.safetensors")
            .Append(CheckpointDirectory.ManifestName).Append(ModelCheckpoint.TrunkFile)
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, files);
        var trunk = SafeTensors.Load(Path.Combine(dir, ModelCheckpoint.TrunkFile));
        Assert.Contains("blocks.1.moe.router.blocks.1.weight", trunk.Keys);
        Assert.DoesNotContain(trunk.Keys, k => k.Contains(".experts."));
    }

    private MoeTransformer SaveAndLoad(MoeTransformer model, string name)
    {
        var writer = new CheckpointWriter(root, name);
        ModelCheckpoint.Save(writer, model);
        var dir = writer.Commit();
        CheckpointDirectory.Verify(dir);
        // A different seed, so a tensor that loading skipped would keep a different random value.
        manual_seed(12345);
        return ModelCheckpoint.Load(dir);
    }

    // Trained a few steps, so no tensor still holds its initial value (LayerNorm ones, zero biases).
    private static MoeTransformer Trained(bool grow)
    {
        var config = TinyModels.Config();
        var model = TinyModels.Model(config, 1);
        using var trainer = new InProcessTrainer(model, new TrainOptions(LearningRate: 1e-2, WarmupSteps: 0));
        using var gen = new Generator(2);
        trainer.BeginPhase(3, shift: false, new GrowthOptions(), gen);
        for (int step = 0; step < 3; step++) trainer.Step(TinyModels.Tokens(4, 16, 32, step), 4);
        if (grow)
        {
            trainer.BeginPhase(3, shift: true, new GrowthOptions(ExpertsPerShift: 2), gen);
            for (int step = 0; step < 3; step++) trainer.Step(TinyModels.Tokens(4, 16, 32, 10 + step), 4);
        }
        return model;
    }

    private static void AssertSameTensors(MoeTransformer expected, MoeTransformer actual)
    {
        var want = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var got = actual.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(want.Keys.Order(), got.Keys.Order());
        foreach (var (name, tensor) in want)
            Assert.True(TinyModels.Identical(tensor, got[name]), $"{name} differs after loading");
    }
}
