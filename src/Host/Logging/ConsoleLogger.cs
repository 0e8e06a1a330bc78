using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace LifelongMoE.Host.Logging;

/// <summary>
/// Akka's logger for this executable (akka.loggers, set in <see cref="Configuration.ConfigLayers"/>). Akka's own
/// StandardOutLogger writes to stdout, which tears the live progress display apart; this one hands each line
/// to <see cref="LogSink"/>, which writes to stderr, or above the live display while one is shown.
/// </summary>
public sealed class ConsoleLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public const string TypeName = "LifelongMoE.Host.Logging.ConsoleLogger, lifelongmoe";

    public ConsoleLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => LogSink.Write(e.ToString()));
    }
}

/// <summary>Where Akka's log lines go: stderr unless <see cref="Redirect"/> says otherwise.</summary>
public static class LogSink
{
    private static readonly object Gate = new();
    private static Action<string> target = line => Console.Error.WriteLine(line);

    public static void Write(string line)
    {
        lock (Gate) target(line);
    }

    /// <summary>Sends log lines to <paramref name="write"/> until the result is disposed.</summary>
    public static IDisposable Redirect(Action<string> write)
    {
        Action<string> previous;
        lock (Gate)
        {
            previous = target;
            target = write;
        }

        return new Restore(() =>
        {
            lock (Gate) target = previous;
        });
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
