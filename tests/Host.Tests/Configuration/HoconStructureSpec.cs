using LifelongMoE.Host.Configuration;

namespace LifelongMoE.Host.Tests.Configuration;

/// <summary>Broken HOCON files are refused with the line at fault instead of falling back to defaults.</summary>
public class HoconStructureSpec
{
    [Theory]
    [InlineData("%%% garbage {{{", "line 1: '{' is never closed")]
    [InlineData("lifelong-moe.model {\n  d-model = 32\n", "line 1: '{' is never closed")]
    [InlineData("lifelong-moe { model { d-model = 32 } } }", "line 1: unexpected '}'")]
    [InlineData("a = [1, 2\nb = 3 ]]", "line 2: unexpected ']'")]
    [InlineData("a = [1, 2}", "line 1: unexpected '}'")]
    public void Unbalanced_files_are_reported_with_the_line(string text, string expected) =>
        Assert.Equal(expected, ConfigLayers.StructureProblem(text));

    [Theory]
    [InlineData("a { b = 1 }\nc = [1, 2]")]
    [InlineData("# a comment with { and [\na = \"a string with } and ]\"\n// another }\n")]
    [InlineData("a = \"escaped \\\" quote {\"")]
    public void Balanced_files_pass(string text) => Assert.Null(ConfigLayers.StructureProblem(text));

    [Fact]
    public void Shipped_hocon_files_are_balanced()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "LifelongMoE.sln"))) dir = dir.Parent;
        foreach (var file in Directory.GetFiles(Path.Combine(dir.FullName, "hocon"), "*.hocon", SearchOption.AllDirectories)
                     .Append(Path.Combine(dir.FullName, "data", "manifest.hocon")))
            Assert.True(ConfigLayers.StructureProblem(File.ReadAllText(file)) is null, file);
    }
}
