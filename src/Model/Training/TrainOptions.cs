using LifelongMoE.Model.Network;

namespace LifelongMoE.Model.Training;

/// <summary>What happens to the model when the distribution shifts.</summary>
public enum Strategy
{
    /// <summary>Grow every MoE layer, freeze old experts and router blocks, distil from the previous phase.</summary>
    Lifelong,

    /// <summary>Keep training the same model on the new data: no growth, no freezing, no distillation.</summary>
    Finetune,
}

/// <summary>Optimisation and loss settings of one training run.</summary>
public sealed record TrainOptions(
    double LearningRate = 1e-3,
    int WarmupSteps = 30,
    double MinLrRatio = 0.1,
    double GradClip = 1.0,
    AdamWOptions? Adam = null,
    double DistillLambda = 1.0,
    double DistillTemperature = 1.0,
    Strategy Strategy = Strategy.Lifelong)
{
    public AdamWOptions AdamOptions => Adam ?? new AdamWOptions();
}

/// <summary>How the model grows at a distribution shift.</summary>
public sealed record GrowthOptions(
    int ExpertsPerShift = 2,
    ExpansionInit Init = ExpansionInit.Copy,
    RouterInit RouterInit = RouterInit.Zero,
    double NoiseStd = 0.01);

/// <summary>The measurements of one optimizer step.</summary>
public sealed record StepResult(
    double Loss, double CrossEntropy, double Distillation, double BalanceLoss, double ZLoss,
    long Dropped, double GradNorm, double LearningRate, long Tokens);
