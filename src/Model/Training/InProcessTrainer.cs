using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Training;

/// <summary>
/// Trains a <see cref="MoeTransformer"/> with every expert in this process. It is the reference the actor
/// pipeline is tested against and the baseline it is benchmarked against, so every step is deterministic
/// for a fixed seed and data. Each step runs inside one dispose scope, so the live tensor count stays flat.
/// </summary>
public sealed class InProcessTrainer : IDisposable
{
    private readonly TrainOptions options;
    private AdamW? optimizer;
    private LearningRateSchedule schedule = new(1e-3, 0, 1);
    private int phaseStep;

    public InProcessTrainer(MoeTransformer model, TrainOptions options, Device? device = null)
    {
        Model = model;
        this.options = options;
        Device = device ?? CPU;
    }

    public MoeTransformer Model { get; }

    public Device Device { get; }

    /// <summary>The previous phase's model while distilling, else null.</summary>
    public Teacher? Teacher { get; private set; }

    /// <summary>
    /// Starts a phase of <paramref name="steps"/> steps on a new distribution. For every phase after the first,
    /// the lifelong strategy snapshots the teacher, freezes the experts and router blocks that exist, and grows.
    /// A fresh optimizer and warm-up/cosine schedule cover the trainable parameters of the new phase.
    /// </summary>
    public void BeginPhase(int steps, bool shift, GrowthOptions growth, Generator growthGenerator)
    {
        if (shift && options.Strategy == Strategy.Lifelong)
        {
            Teacher?.Dispose();
            Teacher = options.DistillLambda > 0 ? Model.CreateTeacher() : null;
            Model.FreezeExperts();
            Model.AddExperts(growth.ExpertsPerShift, growth.Init, growth.RouterInit, growth.NoiseStd, growthGenerator);
        }

        // Every phase, the first included: Step sends its batches to Device. Moving may replace the parameter
        // objects, so it comes before the optimizer takes them; on the device they are on already it does nothing.
        Model.to(Device);
        optimizer?.Dispose();
        optimizer = new AdamW(
            Model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, (Tensor)p.parameter)),
            options.AdamOptions);
        schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, steps, options.MinLrRatio);
        phaseStep = 0;
    }

    /// <param name="tokens">row-major (batch, sequence+1) token ids: inputs and next-token targets</param>
    public StepResult Step(long[] tokens, int batchSize)
    {
        if (optimizer is null) throw new InvalidOperationException("call BeginPhase before Step");
        Model.train();
        using var scope = NewDisposeScope();

        var batch = tensor(tokens, new long[] { batchSize, tokens.Length / batchSize }).to(Device);
        var x = batch[.., ..^1];                                                  // (batch, tokens)
        var y = batch[.., 1..];                                                   // (batch, tokens)

        var result = Model.Forward(x);
        var ce = Losses.NextToken(result.Logits, y);
        var loss = ce + Model.Config.LoadBalanceCoef * result.BalanceLoss
            + Model.Config.RouterZLossCoef * result.ZLoss;
        double kl = 0;
        if (Teacher is not null)
        {
            var distill = Losses.Distillation(result.Logits, Teacher.Logits(x), options.DistillTemperature);
            loss = loss + options.DistillLambda * distill;
            kl = distill.item<float>();
        }
        loss.backward();

        double squared = optimizer.SquaredGradNorm();
        double lr = schedule.At(phaseStep++);
        optimizer.Step(lr, GradientClipping.Scale(squared, options.GradClip));
        optimizer.ZeroGrad();

        return new StepResult(loss.ToDouble(), ce.ToDouble(), kl, result.BalanceLoss.ToDouble(),
            result.ZLoss.ToDouble(), result.Dropped, Math.Sqrt(squared), lr, x.numel());
    }

    /// <summary>Mean next-token cross-entropy (nats per token) over fixed sequences, without gradients.</summary>
    public double Evaluate(IReadOnlyList<long[]> sequences, int batchSize) =>
        Evaluation.MeanLoss(Model, sequences, batchSize, Device);

    public void Dispose()
    {
        optimizer?.Dispose();
        Teacher?.Dispose();
    }
}

public static class Evaluation
{
    /// <summary>Mean next-token cross-entropy (nats per token) of a model over fixed sequences.</summary>
    public static double MeanLoss(MoeTransformer model, IReadOnlyList<long[]> sequences, int batchSize, Device device)
    {
        model.eval();
        try
        {
            return MeanLoss(sequences, batchSize, device, x => model.Forward(x, model.Phases).Logits);
        }
        finally
        {
            model.train();
        }
    }

    /// <summary>
    /// Mean next-token cross-entropy (nats per token) over fixed sequences, given how to compute logits
    /// (batch, tokens, vocab) from inputs (batch, tokens). Runs without autograd, one dispose scope per batch.
    /// </summary>
    public static double MeanLoss(IReadOnlyList<long[]> sequences, int batchSize, Device device,
        Func<Tensor, Tensor> logitsOf)
    {
        if (sequences.Count == 0) throw new ArgumentException("no evaluation sequences");
        using var _ = no_grad();
        double total = 0;
        long count = 0;
        for (int i = 0; i < sequences.Count; i += batchSize)
        {
            using var scope = NewDisposeScope();
            var rows = sequences.Skip(i).Take(batchSize).ToList();
            var batch = tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Count, rows[0].Length })
                .to(device);
            var x = batch[.., ..^1];
            var logits = logitsOf(x);
            var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), batch[.., 1..].reshape(-1),
                reduction: nn.Reduction.Sum);
            total += loss.ToDouble();
            count += x.numel();
        }
        return total / count;
    }
}
