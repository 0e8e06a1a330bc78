using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// Verbs whose command line is settled but whose work is not written yet: eval and generate (loading a
/// checkpoint, evaluating, sampling). Each still loads and validates the configuration, so a bad
/// key is reported as it will be, then says plainly that it is not available.
/// </summary>
internal static class PendingCommands
{
    public static int Run(CommandLine command, TextWriter error)
    {
        RunSettingsBinding.FromConfig(ConfigLayers.Load(command));
        error.WriteLine($"lifelongmoe {command.Verb}: not available yet");
        return Usage.Failed;
    }
}
