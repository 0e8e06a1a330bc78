using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Commands;
using LifelongMoE.Host.Configuration;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Data;
using Spectre.Console;

namespace LifelongMoE.Host.Cli;

/// <summary>
/// Runs one command line and turns its outcome into an exit code. Errors a user can fix (a bad key, a broken
/// corpus or checkpoint) are one line naming the file, key and value; the stack trace only with --verbose.
/// </summary>
/// <param name="console">tables and the live progress display</param>
/// <param name="output">plain text: the help, progress lines when not on a terminal</param>
internal sealed class App(
    IAnsiConsole console, TextWriter output, TextWriter error, bool interactive, TrainingRunner runner)
{
    public async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        CommandLine command;
        try
        {
            command = CommandLine.Parse(args);
        }
        catch (UsageException e)
        {
            return BadUsage(e.Message);
        }

        if (command.Help)
        {
            if (args.Count == 0) return BadUsage("no verb given");
            output.WriteLine(Usage.Text);
            return Usage.Ok;
        }

        try
        {
            return await Dispatch(command, ct);
        }
        catch (UsageException e)
        {
            return BadUsage(e.Message);
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException && ct.IsCancellationRequested)
        {
            error.WriteLine("lifelongmoe: cancelled");
            return Usage.Cancelled;
        }
        catch (Exception e) when (IsUserError(Unwrap(e)))
        {
            error.WriteLine($"lifelongmoe: error: {Unwrap(e).Message}");
            if (command.Verbose) error.WriteLine(e);
            return Usage.Failed;
        }
        catch (Exception e)
        {
            var inner = Unwrap(e);
            error.WriteLine($"lifelongmoe: {inner.GetType().Name}: {inner.Message}");
            error.WriteLine(command.Verbose ? e.ToString() : "(run with --verbose for the stack trace)");
            return Usage.Failed;
        }
    }

    private async Task<int> Dispatch(CommandLine command, CancellationToken ct) => command.Verb switch
    {
        "train" => await TrainCommand.RunAsync(command, console, output, interactive, runner, ct),
        "eval" => EvalCommand.Run(command, console, ct),
        "generate" => GenerateCommand.Run(command, output, error, ct),
        "corpora" => CorporaCommand.Run(command, console),
        "report" => ReportCommand.Run(command, console),
        "node" => await NodeCommand.RunAsync(command, console, ct),
        "bench" => await BenchCommand.RunAsync(command, console),
        "status" or "pause" or "resume" or "shift" or "checkpoint" =>
            await ControlCommand.RunAsync(command, console, ct),
        _ => throw new UsageException($"unknown verb '{command.Verb}'"),
    };

    private static bool IsUserError(Exception e) =>
        e is SettingsException or CorpusException or CheckpointException or ConfigFileException or InvalidDataException
            or ControlException or TrainingFailedException;

    // Awaited actor code may surface as an AggregateException or a TypeInitializationException around the cause.
    private static Exception Unwrap(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: 1 } a => Unwrap(a.InnerExceptions[0]),
        TypeInitializationException { InnerException: { } inner } => Unwrap(inner),
        _ => e,
    };

    private int BadUsage(string message)
    {
        error.WriteLine($"lifelongmoe: {message}");
        error.WriteLine();
        error.WriteLine(Usage.Text);
        return Usage.BadUsage;
    }
}
