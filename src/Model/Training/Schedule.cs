namespace LifelongMoE.Model.Training;

/// <summary>Linear warm-up to the peak rate, then cosine decay to min_lr_ratio * peak at the last step.</summary>
public sealed record LearningRateSchedule(double PeakLr, int WarmupSteps, int TotalSteps, double MinLrRatio = 0.1)
{
    public double At(int step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        // Steps are counted from 0, so the last one is TotalSteps - 1 and that is where the rate reaches min.
        int decaySteps = Math.Max(1, TotalSteps - 1 - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        double min = PeakLr * MinLrRatio;
        return min + 0.5 * (PeakLr - min) * (1 + Math.Cos(Math.PI * progress));
    }
}

/// <summary>Clipping by the global gradient norm over every owner of parameters.</summary>
public static class GradientClipping
{
    /// <summary>
    /// The factor that brings the global norm down to <paramref name="maxNorm"/> (1 if already below).
    /// </summary>
    public static double Scale(double squaredNormSum, double maxNorm)
    {
        if (maxNorm <= 0) return 1.0;
        double norm = Math.Sqrt(squaredNormSum);
        return Math.Min(1.0, maxNorm / (norm + 1e-6));
    }
}
