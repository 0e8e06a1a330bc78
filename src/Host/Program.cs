using System.Runtime.InteropServices;
using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using Spectre.Console;

// The first Ctrl+C (or SIGTERM) asks the run to stop: the training stops after its current step, and the
// report of what was done is still written. A second one ends the process at once. Akka's own signal hook is
// off (base.hocon, akka.coordinated-shutdown.run-by-clr-shutdown-hook): it would shut the actor system down
// under the running step. The source is never disposed: a signal may still arrive while the process ends.
var cancel = new CancellationTokenSource();

bool RequestStop()
{
    if (cancel.IsCancellationRequested) return false;
    Console.Error.WriteLine("lifelongmoe: stopping after the current step (Ctrl+C again to abort at once)");
    cancel.Cancel();
    return true;
}

Console.CancelKeyPress += (_, e) => e.Cancel = RequestStop();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => context.Cancel = RequestStop());

bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

// Redirected output has no width; without one, Spectre wraps tables at 80 columns.
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;

var app = new App(AnsiConsole.Console, Console.Out, Console.Error, interactive, TrainingRun.RunAsync);
return await app.RunAsync(args, cancel.Token);
