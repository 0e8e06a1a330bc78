using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Tests.Configuration;
using LifelongMoE.Host.Training;

namespace LifelongMoE.Host.Tests.Reports;

public class TrainingLogSpec
{
    private static TrainingProgress Progress(int phase, int step, int steps = 4) =>
        new(phase, 2, phase == 1 ? "fiction" : "scripture", step, steps, 2.5, 2.4, 0.1, 900, TimeSpan.Zero, 3, 0);

    [Fact]
    public void Steps_count_on_across_phases_and_eval_lands_at_each_phase_end()
    {
        var dir = Repository.TempDirectory("training-log");
        var settings = RunSettingsFixture.Tiny();
        string path;
        using (var log = new TrainingLog(dir, settings))
        {
            // Phase 1 cut short by a shift: 3 of its 4 steps.
            for (int step = 1; step <= 3; step++) log.OnProgress(Progress(1, step));
            for (int step = 1; step <= 4; step++) log.OnProgress(Progress(2, step));
            var sample = ReportWriterSpec.SampleReport();
            var phases = sample.Phases.Take(2).Select((p, i) => p with { Steps = i == 0 ? 3 : 4 }).ToList();
            log.OnFinished(sample with { Phases = phases });
            path = log.EventFile;
        }

        var events = TfEvents.Read(path).Skip(1).ToList();
        var train = events.Where(e => e.Values.Any(v => v.Tag == "train/loss")).ToList();
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7 }, train.Select(e => e.Step));
        Assert.All(train, e => Assert.Equal(
            new[] { "train/loss", "train/ce", "train/distill", "train/tokens_per_second", "train/lr",
                "train/experts_per_layer", "train/dropped_tokens" },
            e.Values.Select(v => v.Tag)));

        var eval = events.Where(e => e.Values.Any(v => v.Tag.StartsWith("eval/"))).ToList();
        Assert.Equal(new long[] { 3, 7 }, eval.Select(e => e.Step));
        Assert.Equal(new TfEvents.Scalar("eval/bits_per_byte/scripture", 1.3f), eval[1].Values[1]);
    }

    [Fact]
    public void Learning_rate_follows_the_warmup_of_each_phase()
    {
        var dir = Repository.TempDirectory("training-log-lr");
        var settings = RunSettingsFixture.Tiny();       // lr 1e-3, warm-up 2 steps
        string path;
        using (var log = new TrainingLog(dir, settings))
        {
            log.OnProgress(Progress(1, 1, 20));
            log.OnProgress(Progress(2, 1, 20));
            path = log.EventFile;
        }

        var lr = TfEvents.Read(path).Skip(1).Select(e => e.Values.Single(v => v.Tag == "train/lr").Value).ToList();
        Assert.Equal(new[] { 5e-4f, 5e-4f }, lr);
    }
}
