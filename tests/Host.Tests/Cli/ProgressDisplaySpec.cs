using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Training;

namespace LifelongMoE.Host.Tests.Cli;

public class ProgressDisplaySpec
{
    [Fact]
    public void Plain_lines_come_at_the_first_and_last_step_and_every_tenth_of_a_phase()
    {
        var output = new StringWriter();
        var lines = new ProgressDisplay.PlainLines(output);

        for (int step = 1; step <= 50; step++)
        {
            lines.OnProgress(new TrainingProgress(
                2, 5, "legal", step, 50, 2.0, 1.9, 0.05, 12345, TimeSpan.FromSeconds(75), 6, 0));
        }

        var written = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(11, written.Length);
        Assert.Equal("phase 2/5 legal step 1/50 loss 2.000 (ce 1.900, distill 0.050) 12,345 tok/s ETA 1:15",
            written[0].TrimEnd());
        Assert.StartsWith("phase 2/5 legal step 50/50", written[^1]);
    }

    [Theory]
    [InlineData(75, "1:15")]
    [InlineData(3725, "1:02:05")]
    [InlineData(-1, "?")]
    public void Eta_is_minutes_and_seconds_or_hours(int seconds, string shown)
    {
        Assert.Equal(shown, ProgressDisplay.Eta(TimeSpan.FromSeconds(seconds)));
    }
}
