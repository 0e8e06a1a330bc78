using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;
using Spectre.Console;

namespace LifelongMoE.Host.Commands;

/// <summary>
/// status, pause, resume, shift, checkpoint: one control message to the phase supervisor of a running training,
/// sent from a short-lived actor system of this process (remote, not a cluster member), and its reply printed.
/// </summary>
internal static class ControlCommand
{
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(15);

    public static async Task<int> RunAsync(CommandLine command, IAnsiConsole console, CancellationToken ct)
    {
        var config = ConfigLayers.Load(command);
        var target = TrainerAddress.Resolve(command, config);
        object message = command.Verb switch
        {
            "status" => new GetStatus(),
            "pause" => new Pause(),
            "resume" => new Resume(),
            "shift" => new ShiftNow(),
            "checkpoint" => new Checkpoint(),
            _ => throw new ArgumentException($"'{command.Verb}' is not a control verb", nameof(command)),
        };

        var client = ConfigurationFactory.ParseString(
            "akka.actor.provider = remote\nakka.remote.dot-netty.tcp.port = 0").WithFallback(config);
        using var system = ActorSystem.Create("lifelongmoe-control", client);
        try
        {
            var reply = await system.ActorSelection(target.Supervisor).Ask<object>(message, AnswerTimeout, ct);
            Print(console, reply);
            return Usage.Ok;
        }
        catch (AskTimeoutException)
        {
            throw new ControlException($"{target.Supervisor}: no answer within " +
                                       $"{AnswerTimeout.TotalSeconds:0} s; is the training still running?");
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static void Print(IAnsiConsole console, object reply)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (reply)
        {
            case StatusReport s:
                var table = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("").AddColumn("");
                table.AddRow("state", Markup.Escape(s.State));
                table.AddRow("phase", Markup.Escape($"{s.Phase}/{s.Phases} {s.Distribution}"));
                table.AddRow("step", Markup.Escape($"{s.StepInPhase}/{s.StepsInPhase} (global {s.GlobalStep})"));
                table.AddRow("last loss", s.LastLoss.ToString("F3", inv));
                table.AddRow("tokens/s", s.TokensPerSecond.ToString("N0", inv));
                table.AddRow("experts/layer", s.ExpertsPerLayer.ToString(inv));
                table.AddRow("last checkpoint", Markup.Escape(s.LastCheckpoint ?? "-"));
                console.Write(table);
                break;
            case ControlAck ack:
                console.WriteLine(ack.What);
                break;
            default:
                console.WriteLine(reply.ToString() ?? "");
                break;
        }
    }
}
