using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// Verbs whose command line is settled but whose work needs parts of src/Actors that do not exist yet:
/// eval, generate (checkpoint loading and sampling), node (joining a worker to the cluster), status, pause,
/// resume, shift, checkpoint (a client of the phase supervisor) and bench. Each still loads and validates the
/// configuration, so a bad key is reported as it will be, then says plainly that it is not available.
/// </summary>
internal static class PendingCommands
{
    public static int Run(CommandLine command, TextWriter error)
    {
        RunSettingsBinding.FromConfig(ConfigLayers.Load(command));
        error.WriteLine($"lifelongmoe {command.Verb}: not available yet: it waits for the actor pipeline (src/Actors)");
        return Usage.Failed;
    }
}
