using LifelongMoE.Actors.Messages;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Gating;

/// <summary>
/// The trunk side of the pipeline: embeddings, attention, norms, routers and LM head, with their optimizer.
/// It runs a training step as stages split at every MoE layer. Forward: at each MoE layer the tokens are
/// grouped by expert and sent out in one exchange; the replies become leaves of the trunk's graph, and the
/// layer's output starts a fresh leaf for the next stage. Backward, last stage first: the stage's output
/// gradient gives the gradient of every expert output; the experts turn those into input gradients, which
/// flow back into the same stage, and so into the previous stage's leaf. The sum of these parts is exactly
/// the gradient of the unsplit network, which is what <see cref="InProcessTrainer"/> computes.
/// </summary>
public sealed class GatingEngine : IDisposable
{
    private readonly IExpertChannel experts;
    private readonly TrainOptions options;
    private readonly HashSet<string> frozen = new();
    private AdamW? trunkOptimizer;
    private LearningRateSchedule schedule = new(1e-3, 0, 1);
    private int phaseStep;

    /// <summary>Takes the model's expert weights out to the experts and keeps the trunk.</summary>
    public GatingEngine(MoeTransformer model, TrainOptions options, IExpertChannel experts, Device device)
    {
        Model = model;
        this.options = options;
        this.experts = experts;
        Device = device;
        foreach (var (block, layer) in model.MoeLayers)
        {
            if (!layer.HoldsExperts) continue;
            for (int e = 0; e < layer.Experts.Count; e++)
                experts.Init(MoeTransformer.ExpertId(block, e), layer.Experts[e].StateDict(), layer.Experts[e].Frozen);
            layer.ReleaseExperts();
        }
    }

    public MoeTransformer Model { get; }

    public Device Device { get; }

    public Teacher? Teacher { get; private set; }

    /// <summary>Every expert id of the model now, in layer then expert order.</summary>
    public IReadOnlyList<string> ExpertIds => Model.MoeLayers
        .SelectMany(l => Enumerable.Range(0, l.Layer.ExpertCount).Select(e => MoeTransformer.ExpertId(l.Block, e)))
        .ToList();

    public IReadOnlyList<string> TrainableExpertIds => ExpertIds.Where(id => !frozen.Contains(id)).ToList();

    public IReadOnlyList<string> FrozenExpertIds => ExpertIds.Where(frozen.Contains).ToList();

    /// <summary>Steps taken in the current phase: the position in its learning-rate schedule.</summary>
    public int PhaseStep => phaseStep;

    /// <summary>The trunk's AdamW state: moments by parameter name, and the step count. Empty before a phase.</summary>
    public Dictionary<string, Tensor> TrunkOptimizerState() => trunkOptimizer?.StateDict() ?? new();

    /// <summary>
    /// Rolls the trunk back to a checkpoint of the current phase: its weights, its AdamW state (fresh where the
    /// checkpoint has none) and the schedule's position. Gradients left by an interrupted step are dropped. The
    /// layout (experts per phase, frozen router blocks) is the phase's and does not change; a checkpoint of another
    /// layout fails on the first tensor whose shape differs.
    /// </summary>
    public void RestoreTrunk(string directory, IReadOnlyDictionary<string, Tensor>? optimizerState, int? step)
    {
        TrunkCheckpoint.LoadInto(directory, Model);
        if (trunkOptimizer is null) return;
        if (optimizerState is null)
        {
            trunkOptimizer.Dispose();
            trunkOptimizer = new AdamW(Model.TrainableTrunkParameters().Select(p => (p.Name, (Tensor)p.Parameter)),
                options.AdamOptions);
        }
        else
        {
            trunkOptimizer.LoadStateDict(optimizerState);
        }
        trunkOptimizer.ZeroGrad();
        if (step is { } s) phaseStep = s;
    }

    /// <summary>
    /// Starts a phase: on a shift under the lifelong strategy, snapshots the teacher, freezes every existing
    /// expert and router block, and grows every MoE layer with experts initialised from the old ones. Then a
    /// fresh trunk optimizer and schedule; experts that train on into the phase get fresh optimizers too. Mirrors
    /// <see cref="InProcessTrainer.BeginPhase"/> draw for draw.
    /// </summary>
    public IReadOnlyList<string> BeginPhase(int steps, bool shift, GrowthOptions growth, Generator generator)
    {
        var added = new List<string>();
        if (shift && options.Strategy == Strategy.Lifelong)
        {
            Teacher?.Dispose();
            Teacher = options.DistillLambda > 0 ? Model.CreateTeacher() : null;
            Model.FreezeExperts();
            var old = ExpertIds;
            experts.Freeze(old);
            frozen.UnionWith(old);
            added.AddRange(Grow(growth, generator));
        }
        if (trunkOptimizer is not null) ResetExpertOptimizers(TrainableExpertIds.Except(added).ToList());

        trunkOptimizer?.Dispose();
        trunkOptimizer = new AdamW(Model.TrainableTrunkParameters().Select(p => (p.Name, (Tensor)p.Parameter)),
            options.AdamOptions);
        schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, steps, options.MinLrRatio);
        phaseStep = 0;
        return added;
    }

    /// <summary>
    /// Experts that train on into a new phase (the finetune strategy) start it with fresh AdamW moments and bias
    /// correction, like every parameter of <see cref="InProcessTrainer"/>, and like a run resumed from the phase-end
    /// checkpoint, which holds no optimizer state. Re-initialising an expert with its own weights does that.
    /// </summary>
    private void ResetExpertOptimizers(IReadOnlyList<string> ids)
    {
        foreach (var id in ids)
        {
            var weights = experts.Weights(id);
            experts.Init(id, weights, frozen: false);
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    private List<string> Grow(GrowthOptions growth, Generator generator)
    {
        var added = new List<string>();
        foreach (var (block, layer) in Model.MoeLayers)
        {
            var fetched = new List<IReadOnlyDictionary<string, Tensor>>();
            var created = layer.AddExperts(growth.ExpertsPerShift, growth.Init, growth.RouterInit, growth.NoiseStd,
                generator, source =>
                {
                    var w = experts.Weights(MoeTransformer.ExpertId(block, source));
                    fetched.Add(w);
                    return w;
                });
            int first = layer.ExpertCount - created.Count;
            for (int j = 0; j < created.Count; j++)
            {
                var id = MoeTransformer.ExpertId(block, first + j);
                experts.Init(id, created[j], frozen: false);
                added.Add(id);
            }
            foreach (var t in created.SelectMany(c => c.Values).Concat(fetched.SelectMany(f => f.Values))) t.Dispose();
        }
        Model.to(Device);
        return added;
    }

    /// <param name="tokens">row-major (batch, sequence+1) token ids</param>
    public StepResult Step(long step, long[] tokens, int batchSize)
    {
        if (trunkOptimizer is null) throw new InvalidOperationException("call BeginPhase before Step");
        Model.train();
        using var scope = NewDisposeScope();

        var batch = tensor(tokens, new long[] { batchSize, tokens.Length / batchSize }).to(Device);
        var x = batch[.., ..^1];                                                    // (batch, tokens)
        var y = batch[.., 1..];

        var pass = Forward(step, x, Model, Model.Phases, train: true);
        var ce = Losses.NextToken(pass.Logits, y);
        var head = ce;                   // the part of the loss that only the last stage's graph reaches
        double kl = 0;
        if (Teacher is not null)
        {
            Tensor teacherLogits;
            using (no_grad()) teacherLogits = Forward(step, x, Teacher.Model, Teacher.Phases, train: false).Logits;
            var distill = Losses.Distillation(pass.Logits, teacherLogits, options.DistillTemperature);
            head = head + options.DistillLambda * distill;
            kl = distill.item<float>();
        }
        var loss = head + Model.Config.LoadBalanceCoef * pass.Balance + Model.Config.RouterZLossCoef * pass.ZLoss;

        double squared = Backward(step, head, pass.Stages) + trunkOptimizer.SquaredGradNorm();
        double lr = schedule.At(phaseStep++);
        double scale = GradientClipping.Scale(squared, options.GradClip);
        experts.ApplyStep(step, TrainableExpertIds, lr, scale);
        trunkOptimizer.Step(lr, scale);
        trunkOptimizer.ZeroGrad();

        return new StepResult(loss.ToDouble(), ce.ToDouble(), kl, pass.Balance.ToDouble(), pass.ZLoss.ToDouble(),
            pass.Dropped, Math.Sqrt(squared), lr, x.numel());
    }

    /// <summary>Mean next-token cross-entropy (nats per token) over fixed sequences, without gradients.</summary>
    public double Evaluate(IReadOnlyList<long[]> sequences, int batchSize)
    {
        Model.eval();
        try
        {
            return Evaluation.MeanLoss(sequences, batchSize, Device,
                x => Forward(-1, x, Model, Model.Phases, train: false).Logits);
        }
        finally
        {
            Model.train();
        }
    }

    /// <param name="Auxiliary">this layer's weighted load-balancing and z-losses</param>
    private sealed record Stage(int Block, Tensor Output, Tensor NextInput, Tensor Auxiliary, IReadOnlyList<string> Ids,
        IReadOnlyList<Tensor> Inputs, IReadOnlyList<Tensor> Outputs);

    private sealed record Pass(Tensor Logits, Tensor Balance, Tensor ZLoss, long Dropped, List<Stage> Stages);

    private Pass Forward(long step, Tensor x, MoeTransformer model, int phases, bool train)
    {
        var h = model.Embed(x);                                                     // (batch, tokens, d_model)
        var balance = zeros(1, dtype: h.dtype, device: h.device).squeeze();
        var zLoss = zeros(1, dtype: h.dtype, device: h.device).squeeze();
        long dropped = 0;
        var stages = new List<Stage>();

        for (int i = 0; i < model.Blocks.Count; i++)
        {
            var block = model.Blocks[i];
            h = block.Attend(h);
            var xn = block.FeedForwardInput(h);
            if (block.Moe is null)
            {
                h = h + block.Dense(xn);
                continue;
            }

            var flat = xn.reshape(-1, model.Config.DModel);                        // (batch*tokens, d_model)
            var routing = block.Moe.Route(flat, phases, model.Config.TopK, model.Config.CapacityFactor);
            if (train) block.Moe.Stats.Add(routing);
            var inputs = routing.Groups.Select(g => flat.index_select(0, g.TokenIndex)).ToList();
            var ids = routing.Groups.Select(g => MoeTransformer.ExpertId(i, g.Expert)).ToList();
            var key = new StepKey(step, 0, i);
            var outputs = experts.Forward(key, ids.Zip(inputs, (id, t) => new ExpertCall(id, t)).ToList(), train);
            if (train) foreach (var o in outputs) o.requires_grad_(true);

            var combined = Routing.Combine(flat.shape[0], flat.shape[1], routing.Groups, outputs, flat.dtype,
                flat.device);                                                   // (batch*tokens, d_model)
            var output = h + combined.view(xn.shape);
            balance = balance + routing.BalanceLoss;
            zLoss = zLoss + routing.ZLoss;
            dropped += routing.Dropped;

            if (!train)
            {
                h = output;
                continue;
            }
            // A new leaf starts the next stage, so each stage's backward can be run on its own.
            h = output.detach().requires_grad_(true);
            var auxiliary = model.Config.LoadBalanceCoef * routing.BalanceLoss
                + model.Config.RouterZLossCoef * routing.ZLoss;
            stages.Add(new Stage(i, output, h, auxiliary, ids, inputs, outputs));
        }
        return new Pass(model.Head(h), balance, zLoss, dropped, stages);
    }

    /// <summary>
    /// Backward, last stage first, each stage's graph traversed once: the gradient of the stage's output gives
    /// the experts' output gradients (through the combine only); the experts answer with their input gradients;
    /// then one backward call takes the output gradient, the layer's auxiliary losses and the expert input
    /// gradients through the stage together, down to the previous stage's leaf.
    /// </summary>
    /// <param name="head">the loss terms computed after the last MoE layer (cross-entropy, distillation)</param>
    /// <returns>the sum of the experts' squared gradient norms</returns>
    private double Backward(long step, Tensor head, List<Stage> stages)
    {
        head.backward();
        double squared = 0;
        for (int s = stages.Count - 1; s >= 0; s--)
        {
            var stage = stages[s];
            var gradOut = stage.NextInput.grad ?? zeros_like(stage.NextInput);
            var roots = new List<Tensor> { stage.Output, stage.Auxiliary };
            var grads = new List<Tensor> { gradOut, ones_like(stage.Auxiliary) };

            if (stage.Ids.Count > 0)
            {
                var outputGrads = autograd.grad(new[] { stage.Output }, stage.Outputs.ToList(), new[] { gradOut },
                    retain_graph: true, allow_unused: true);
                var calls = stage.Ids.Select((id, j) =>
                    new ExpertCall(id, outputGrads[j] ?? zeros_like(stage.Outputs[j]))).ToList();
                var replies = experts.Backward(new StepKey(step, 0, stage.Block), calls);
                squared += replies.Sum(r => r.SquaredNorm);
                roots.AddRange(stage.Inputs);
                grads.AddRange(replies.Select(r => r.InputGrad));
            }
            autograd.backward(roots, grads);
        }
        return squared;
    }

    public void Dispose()
    {
        trunkOptimizer?.Dispose();
        Teacher?.Dispose();
    }
}
