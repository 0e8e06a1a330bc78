using Spectre.Console;

namespace LifelongMoE.Host.Tests;

/// <summary>A Spectre console that writes plain text (no colours, no live display) into a string.</summary>
public sealed class TestConsole
{
    public TestConsole()
    {
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(Writer),
        });
        Console.Profile.Width = 200;
    }

    public StringWriter Writer { get; } = new();

    public IAnsiConsole Console { get; }

    public string Text => Writer.ToString();
}

/// <summary>Paths of the repository the tests run in.</summary>
public static class Repository
{
    public static string Root { get; } = Actors.Training.RunSettingsBinding.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException("the tests run outside the repository");

    public static string Hocon => Path.Combine(Root, "hocon");

    public static string Manifest => Path.Combine(Root, "data", "manifest.hocon");

    /// <summary>A new, empty temporary folder.</summary>
    public static string TempDirectory(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "lifelongmoe-host-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
