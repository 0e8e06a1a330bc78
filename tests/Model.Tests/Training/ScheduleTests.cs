using LifelongMoE.Model.Training;

namespace LifelongMoE.Model.Tests.Training;

/// <summary>Linear warm-up, then cosine decay that reaches the floor at the phase's last step.</summary>
public class ScheduleTests
{
    // Peak 1, floor 0.1, 4 warm-up steps, 13 steps in all: the cosine runs over steps 4..12.
    private static readonly LearningRateSchedule Schedule = new(1.0, 4, 13, 0.1);

    [Theory]
    [InlineData(0, 0.25)]
    [InlineData(1, 0.5)]
    [InlineData(3, 1.0)]
    public void Warm_up_rises_linearly_to_the_peak(int step, double expected) =>
        Assert.Equal(expected, Schedule.At(step), 12);

    [Theory]
    [InlineData(4, 1.0)]
    [InlineData(6, 0.1 + 0.45 * 1.7071067811865475)]    // a quarter of the way: 1 + cos(pi / 4)
    [InlineData(8, 0.55)]                                // half way: 0.1 + 0.45 * (1 + cos(pi / 2))
    [InlineData(12, 0.1)]                                // the last step
    [InlineData(40, 0.1)]                                // past the end the floor holds
    public void Cosine_decays_from_the_peak_to_the_floor(int step, double expected) =>
        Assert.Equal(expected, Schedule.At(step), 12);

    [Fact]
    public void Without_warm_up_the_first_step_runs_at_the_peak()
    {
        var schedule = new LearningRateSchedule(3e-4, 0, 100, 0.1);
        Assert.Equal(3e-4, schedule.At(0), 15);
        Assert.Equal(3e-5, schedule.At(99), 15);
    }
}
