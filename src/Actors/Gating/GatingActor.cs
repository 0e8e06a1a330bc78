using Akka.Actor;
using Akka.Event;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Model.Checkpoints;
using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Actors.Gating;

/// <summary>
/// Owns the trunk (embeddings, attention, norms, routers, LM head) and its optimizer, and runs each request
/// synchronously inside its handler: the staged forward, the all-to-all exchanges with the experts and the
/// staged backward (see <see cref="GatingEngine"/>). It blocks on expert replies, which is why it runs on its
/// own pinned thread and the experts on another dispatcher. Any failure, a timeout included, is replied to
/// the requester as Status.Failure.
/// </summary>
public sealed class GatingActor : ReceiveActor
{
    /// <summary>The trunk's AdamW state sits beside its weights, as every expert's does.</summary>
    public const string TrunkOptimizerFile = "trunk.optim.safetensors";

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Func<GatingEngine> createEngine;
    private readonly GrowthOptions growth;
    private readonly int seed;
    private readonly IExpertChannel experts;
    private GatingEngine? engine;

    public GatingActor(MoeTransformer model, TrainOptions train, GrowthOptions growth, IExpertChannel experts,
        Device device, int seed)
    {
        this.growth = growth;
        this.experts = experts;
        this.seed = seed;
        // The engine hands the experts their weights, a request that can time out. Built inside the first request
        // rather than here, such a failure is that request's Status.Failure, not an actor that never started.
        createEngine = () => new GatingEngine(model, train, experts, device);

        Receive<BeginPhase>(m => Reply(() =>
        {
            // One generator per phase, so a run resumed at a phase boundary grows exactly as an unbroken one.
            var generator = new Generator((ulong)seed * 1000 + (ulong)m.Phase);
            var added = Engine.BeginPhase(m.Steps, m.Shift, growth, generator);
            return new PhaseBegun(added, Engine.Model.ExpertsPerLayer);
        }));
        Receive<RunStep>(m => Reply(() => new StepDone(m.Step, Engine.Step(m.Step, m.Tokens, m.BatchSize))));
        Receive<EvaluateSequences>(m => Reply(() =>
            new Evaluated(m.Distribution, Engine.Evaluate(m.Sequences, m.BatchSize))));
        Receive<SaveModel>(m => Reply(() => Save(m)));
        Receive<RestoreModel>(m => Reply(() => Restore(m)));
    }

    public static Props Props(MoeTransformer model, TrainOptions train, GrowthOptions growth, IExpertChannel experts,
        Device device, int seed) =>
        Akka.Actor.Props.Create(() => new GatingActor(model, train, growth, experts, device, seed));

    private GatingEngine Engine => engine ??= createEngine();

    private void Reply(Func<object> work)
    {
        try
        {
            using var scope = NewDisposeScope();
            Sender.Tell(work());
        }
        catch (Exception e)
        {
            log.Error("gating: {0}", e.Message);
            Sender.Tell(new Status.Failure(e));
        }
    }

    private ModelSaved Save(SaveModel m)
    {
        var files = new Dictionary<string, string> { ["trunk"] = ModelCheckpoint.TrunkFile };
        TrunkCheckpoint.Save(Path.Combine(m.StagingDirectory, ModelCheckpoint.TrunkFile), Engine.Model);
        if (m.WithOptimizer)
            SafeTensors.Save(Path.Combine(m.StagingDirectory, TrunkOptimizerFile), Engine.TrunkOptimizerState());
        var targets = new List<(string, string)>();
        foreach (var (block, layer) in Engine.Model.MoeLayers)
        {
            for (int e = 0; e < layer.ExpertCount; e++)
            {
                var rel = ModelCheckpoint.ExpertFile(block, e);
                files[MoeTransformer.ExpertId(block, e)] = rel;
                targets.Add((MoeTransformer.ExpertId(block, e), Path.Combine(m.StagingDirectory, rel)));
            }
        }
        experts.Save(targets, m.WithOptimizer);
        return new ModelSaved(files, Engine.PhaseStep, Engine.FrozenExpertIds);
    }

    private ModelRestored Restore(RestoreModel m)
    {
        var frozen = Engine.FrozenExpertIds.ToHashSet();
        if (m.Frozen is not null && !frozen.SetEquals(m.Frozen))
            throw new CheckpointException(m.CheckpointDirectory,
                $"its frozen experts [{string.Join(", ", m.Frozen.Order())}] are not the phase's " +
                $"[{string.Join(", ", frozen.Order())}]: it is a checkpoint of another phase");
        var optimizerPath = Path.Combine(m.CheckpointDirectory, TrunkOptimizerFile);
        var optimizerState = File.Exists(optimizerPath) ? SafeTensors.Load(optimizerPath, Engine.Device) : null;
        Engine.RestoreTrunk(m.CheckpointDirectory, optimizerState, m.PhaseStep);
        var sources = new List<(string, string, bool)>();
        foreach (var (block, layer) in Engine.Model.MoeLayers)
            for (int e = 0; e < layer.ExpertCount; e++)
            {
                var id = MoeTransformer.ExpertId(block, e);
                var file = Path.Combine(m.CheckpointDirectory, ModelCheckpoint.ExpertFile(block, e));
                sources.Add((id, file, frozen.Contains(id)));
            }
        experts.Restore(sources);
        return new ModelRestored(m.CheckpointDirectory);
    }

    protected override void PostStop()
    {
        engine?.Dispose();
        base.PostStop();
    }
}
