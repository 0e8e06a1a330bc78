using LifelongMoE.Actors.Training;
using LifelongMoE.Host.Reports;
using LifelongMoE.Model.Training;

namespace LifelongMoE.Host.Training;

/// <summary>
/// Turns the progress of a run into TensorBoard scalars: train/* for every step, eval/bits_per_byte/* after
/// each phase. TensorBoard's x axis is the global step, counted over all phases.
/// </summary>
internal sealed class TrainingLog : IDisposable
{
    private readonly TensorBoardWriter writer;
    private readonly RunSettings settings;
    private readonly object gate = new();
    private int phase = -1;
    private long phaseOffset;
    private int lastStep;

    public TrainingLog(string outputDirectory, RunSettings settings)
    {
        writer = new TensorBoardWriter(outputDirectory);
        this.settings = settings;
    }

    public string EventFile => writer.Path;

    public void OnProgress(TrainingProgress p)
    {
        long step;
        lock (gate)
        {
            if (p.Phase != phase)
            {
                phaseOffset += lastStep;
                phase = p.Phase;
            }

            lastStep = p.Step;
            step = phaseOffset + p.Step;
        }

        writer.Scalars(step,
        [
            ("train/loss", p.Loss),
            ("train/ce", p.CrossEntropy),
            ("train/distill", p.Distillation),
            ("train/tokens_per_second", p.TokensPerSecond),
            ("train/lr", LearningRate(p)),
            ("train/experts_per_layer", p.ExpertsPerLayer),
            ("train/dropped_tokens", p.Dropped),
        ]);
    }

    /// <summary>Held-out bits per byte of every evaluated distribution, at the global step each phase ended.</summary>
    public void OnFinished(RunReport report)
    {
        long step = 0;
        for (int i = 0; i < report.Phases.Count; i++)
        {
            step += report.Phases[i].Steps;
            var values = new List<(string, double)>();
            for (int d = 0; d < report.Distributions.Count && i < report.Eval.Length && d < report.Eval[i].Length; d++)
            {
                if (double.IsFinite(report.Eval[i][d]))
                    values.Add(($"eval/bits_per_byte/{report.Distributions[d]}", report.Eval[i][d]));
            }

            if (values.Count > 0) writer.Scalars(step, values);
        }

        writer.Flush();
    }

    public void Dispose() => writer.Dispose();

    // TrainingProgress carries no learning rate; every phase restarts the same warm-up and cosine schedule,
    // so it is recomputed here from the settings. A phase cut short by a shift command decays on the planned
    // length, as the trainer's own schedule does.
    private double LearningRate(TrainingProgress p)
    {
        var t = settings.Train;
        var schedule = new LearningRateSchedule(t.LearningRate, t.WarmupSteps, p.StepsInPhase, t.MinLrRatio);
        return schedule.At(Math.Max(0, p.Step - 1));
    }
}
