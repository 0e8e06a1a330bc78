using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Cli;
using Spectre.Console;

// The first Ctrl+C asks the run to stop (the training stops at a step boundary and reports); a second
// one ends the process at once.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;
    e.Cancel = true;
    Console.Error.WriteLine("lifelongmoe: stopping (Ctrl+C again to abort at once)");
    cancel.Cancel();
};

bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
var app = new App(AnsiConsole.Console, Console.Error, interactive, TrainingRun.RunAsync);
return await app.RunAsync(args, cancel.Token);
