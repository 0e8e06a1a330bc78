using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using Spectre.Console;

// The first Ctrl+C asks the run to stop: the training stops after its current step, writes a checkpoint,
// and the report of what was done is still written. A second Ctrl+C ends the process at once.
// The source is never disposed: a signal may still arrive while the process shuts down.
var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;
    e.Cancel = true;
    Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} lifelongmoe: stopping after the current step (Ctrl+C again to abort at once)");
    cancel.Cancel();
};

bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

// Redirected output has no width; without one, Spectre wraps tables at 80 columns.
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;

var app = new App(AnsiConsole.Console, Console.Out, Console.Error, interactive, TrainingRun.RunAsync);
return await app.RunAsync(args, cancel.Token);
