using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Network;

namespace LifelongMoE.Model.Tests.Checkpoints;

/// <summary>Damaged or unfinished checkpoints are recognised, and recovery falls back to the last good one.</summary>
[Collection(SerialTorchCollection.Name)]
public sealed class CheckpointVerificationTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"lmoe-ckpt-{Guid.NewGuid():N}");
    private readonly MoeTransformer model = TinyModels.Model(TinyModels.Config(), 1);

    public void Dispose()
    {
        model.Dispose();
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    private string Save(string name)
    {
        var writer = new CheckpointWriter(root, name);
        ModelCheckpoint.Save(writer, model);
        return writer.Commit();
    }

    [Fact]
    public void A_corrupted_expert_file_fails_verification_naming_the_file()
    {
        var dir = Save("step-000010");
        var victim = Path.Combine(dir, ModelCheckpoint.ExpertFile(1, 2));
        var bytes = File.ReadAllBytes(victim);
        bytes[^3] ^= 0x40;
        File.WriteAllBytes(victim, bytes);

        var error = Assert.Throws<CheckpointException>(() => CheckpointDirectory.Verify(dir));

        Assert.Contains("L1-E2.safetensors", error.Message);
        Assert.Equal(victim, error.PathName);
    }

    [Fact]
    public void A_missing_file_fails_verification_naming_the_file()
    {
        var dir = Save("step-000010");
        File.Delete(Path.Combine(dir, ModelCheckpoint.TrunkFile));

        var error = Assert.Throws<CheckpointException>(() => CheckpointDirectory.Verify(dir));

        Assert.Contains(ModelCheckpoint.TrunkFile, error.Message);
    }

    [Fact]
    public void Latest_complete_skips_a_staging_directory_and_picks_the_older_complete_checkpoint()
    {
        var complete = Save("step-000010");
        var staging = new CheckpointWriter(root, "step-000020");
        ModelCheckpoint.Save(staging, model);

        Assert.True(Directory.Exists(staging.StagingPath));
        Assert.Equal(complete, CheckpointDirectory.LatestComplete(root));
    }

    [Fact]
    public void Latest_complete_skips_a_newer_directory_without_a_manifest_and_reports_it()
    {
        var complete = Save("step-000010");
        var crashed = Save("step-000020");
        File.Delete(Path.Combine(crashed, CheckpointDirectory.ManifestName));
        var skipped = new List<string>();

        Assert.Equal(complete, CheckpointDirectory.LatestComplete(root, skipped.Add));

        Assert.Contains(skipped, s => s.Contains("step-000020") && s.Contains("manifest"));
    }

    [Fact]
    public void Latest_complete_skips_a_newer_corrupted_checkpoint()
    {
        var complete = Save("step-000010");
        var corrupted = Save("step-000020");
        File.AppendAllText(Path.Combine(corrupted, ModelCheckpoint.ExpertFile(1, 0)), "x");

        Assert.Throws<CheckpointException>(() => CheckpointDirectory.Verify(corrupted));
        Assert.Equal(complete, CheckpointDirectory.LatestComplete(root));
    }

    [Fact]
    public void A_committed_checkpoint_is_never_overwritten()
    {
        Save("step-000010");

        Assert.Throws<CheckpointException>(() => new CheckpointWriter(root, "step-000010"));
    }
}
