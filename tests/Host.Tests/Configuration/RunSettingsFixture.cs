using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;

namespace LifelongMoE.Host.Tests.Configuration;

public static class RunSettingsFixture
{
    /// <summary>The tiny preset's settings, bound as `train --preset tiny` binds them.</summary>
    public static RunSettings Tiny()
    {
        var config = ConfigLayers.Load(CommandLine.Parse(["train", "--preset", "tiny"]), Repository.Hocon);
        return RunSettingsBinding.FromConfig(config, 256, Repository.Root);
    }
}
