using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>Logits and the summed auxiliary losses of one forward pass.</summary>
public sealed record ForwardResult(Tensor Logits, Tensor BalanceLoss, Tensor ZLoss, long Dropped);

/// <summary>
/// Decoder-only transformer language model whose MoE layers grow by phases. State-dict names follow
/// PyTorch/GPT-2 conventions: wte, wpe, blocks.{i}.attn.c_attn, blocks.{i}.moe.router.blocks.{p},
/// blocks.{i}.moe.experts.{e}.fc1, ln_f, lm_head.
/// </summary>
public sealed class MoeTransformer : nn.Module
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly ModuleList<Block> blocks = new();
    private readonly LayerNorm ln_f;
    private readonly Linear lm_head;

    public MoeTransformer(ModelConfig config) : this(config, student: null) { }

    private MoeTransformer(ModelConfig config, MoeTransformer? student) : base("MoeTransformer")
    {
        config.Validate();
        Config = config;
        wte = nn.Embedding(config.VocabSize, config.DModel);
        wpe = nn.Embedding(config.ContextLength, config.DModel);
        for (int i = 0; i < config.NumLayers; i++)
            blocks.Add(new Block(config, config.IsMoeBlock(i), student?.blocks[i].Moe));
        ln_f = nn.LayerNorm(config.DModel);
        lm_head = nn.Linear(config.DModel, config.VocabSize, hasBias: false);

        register_module("wte", wte);
        register_module("wpe", wpe);
        register_module("blocks", blocks);
        register_module("ln_f", ln_f);
        register_module("lm_head", lm_head);
        ModuleOwnership.KeepOutOfDisposeScopes(this);
        InitWeights();
    }

    public ModelConfig Config { get; }

    public IReadOnlyList<Block> Blocks => blocks.ToList();

    /// <summary>Indices of the blocks that hold an MoE layer.</summary>
    public IReadOnlyList<int> MoeBlocks =>
        Enumerable.Range(0, blocks.Count).Where(i => blocks[i].Moe != null).ToList();

    public IEnumerable<(int Block, MoeLayer Layer)> MoeLayers =>
        MoeBlocks.Select(i => (i, blocks[i].Moe!));

    /// <summary>Number of router blocks, i.e. phases of growth so far (1 before any growth).</summary>
    public int Phases => MoeLayers.Select(l => l.Layer.Router.Phases).DefaultIfEmpty(1).First();

    public int ExpertsPerLayer => MoeLayers.Select(l => l.Layer.ExpertCount).DefaultIfEmpty(0).First();

    private void InitWeights()
    {
        // GPT-2 style: N(0, 0.02) for matrices and zero biases. Router blocks get the same small noise:
        // an all-zero router would tie every logit and top-k would always pick the first experts.
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias")) p.zero_();
            else if (p.dim() >= 2) p.normal_(0, 0.02);
        }
    }

    /// <summary>Token and position embeddings; (batch, tokens) -> (batch, tokens, d_model).</summary>
    public Tensor Embed(Tensor idx)
    {
        long t = idx.shape[1];
        if (t > Config.ContextLength)
            throw new ArgumentException($"sequence of {t} tokens exceeds context-length {Config.ContextLength}");
        var pos = arange(t, dtype: ScalarType.Int64, device: idx.device);
        return wte.forward(idx) + wpe.forward(pos).unsqueeze(0);
    }

    /// <summary>Final norm and LM head; (batch, tokens, d_model) -> (batch, tokens, vocab).</summary>
    public Tensor Head(Tensor h) => lm_head.forward(ln_f.forward(h));

    /// <summary>
    /// Full in-process forward pass. <paramref name="phases"/> restricts every router to its first blocks
    /// (the teacher's view); null uses all of them.
    /// </summary>
    /// <param name="idx">(batch, tokens) token ids</param>
    public ForwardResult Forward(Tensor idx, int? phases = null)
    {
        int p = phases ?? Phases;
        var h = Embed(idx);                                                   // (batch, tokens, d_model)
        var balance = zeros(1, dtype: h.dtype, device: h.device).squeeze();
        var zLoss = zeros(1, dtype: h.dtype, device: h.device).squeeze();
        long dropped = 0;

        foreach (var block in blocks)
        {
            h = block.Attend(h);
            var x = block.FeedForwardInput(h);
            if (block.Moe is null)
            {
                h = h + block.Dense(x);
                continue;
            }
            var flat = x.reshape(-1, Config.DModel);                          // (batch*tokens, d_model)
            var (y, routing) = block.Moe.Forward(flat, p, Config.TopK, Config.CapacityFactor);
            h = h + y.view(x.shape);
            if (phases is null) block.Moe.Stats.Add(routing);
            balance = balance + routing.BalanceLoss;
            zLoss = zLoss + routing.ZLoss;
            dropped += routing.Dropped;
        }
        return new ForwardResult(Head(h), balance, zLoss, dropped);
    }

    /// <summary>Adds <paramref name="n"/> experts and a router block to every MoE layer.</summary>
    public void AddExperts(int n, ExpansionInit init, RouterInit routerInit, double noiseStd, Generator generator)
    {
        foreach (var (_, layer) in MoeLayers)
            DisposeWeights(layer.AddExperts(n, init, routerInit, noiseStd, generator));
    }

    // The layers hold copies of the new experts' weights; the returned originals would otherwise wait for the GC.
    private static void DisposeWeights(IEnumerable<Dictionary<string, Tensor>> created)
    {
        foreach (var weights in created)
            foreach (var t in weights.Values) t.Dispose();
    }

    /// <summary>Freezes every expert and router block that exists now; the dense trunk keeps training.</summary>
    public void FreezeExperts()
    {
        foreach (var (_, layer) in MoeLayers) layer.FreezeExisting();
    }

    /// <summary>
    /// A teacher for distillation: a copy of the dense trunk as it is now, sharing this model's MoE layers
    /// restricted to the router blocks that exist now. Freeze those experts and router blocks before
    /// training on, or the teacher would drift with them.
    /// </summary>
    public Teacher CreateTeacher()
    {
        var teacher = new MoeTransformer(Config, student: this);
        var trunk = TrunkStateDict();
        using (no_grad())
        {
            foreach (var (name, p) in teacher.named_parameters())
            {
                p.copy_(trunk[name]);
                p.requires_grad = false;
            }
        }
        teacher.to(wte.weight!.device);
        teacher.eval();
        return new Teacher(teacher, Phases);
    }

    /// <summary>Every tensor that is not an expert's, by PyTorch-style name.</summary>
    public Dictionary<string, Tensor> TrunkStateDict() =>
        named_parameters().Where(p => !IsExpertParameter(p.name)).ToDictionary(p => p.name, p => (Tensor)p.parameter);

    /// <summary>Trunk parameters that still train (dense trunk and unfrozen router blocks).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> TrainableTrunkParameters() =>
        named_parameters().Where(p => !IsExpertParameter(p.name) && p.parameter.requires_grad);

    public static bool IsExpertParameter(string name) => name.Contains(".moe.experts.");

    /// <summary>The stable identity of an expert: L{block}-E{expert}.</summary>
    public static string ExpertId(int block, int expert) => $"L{block}-E{expert}";

    /// <summary>Grows the router blocks and expert lists to match a checkpoint's layout.</summary>
    public void GrowTo(IReadOnlyList<int> expertsPerPhase)
    {
        foreach (var (_, layer) in MoeLayers)
        {
            using var generator = new Generator(0);
            for (int p = layer.Router.Phases; p < expertsPerPhase.Count; p++)
                DisposeWeights(
                    layer.AddExperts(expertsPerPhase[p], ExpansionInit.Random, RouterInit.Zero, 0, generator));
        }
    }

    /// <summary>Experts added in each phase, e.g. [4, 2, 2].</summary>
    public IReadOnlyList<int> ExpertsPerPhase()
    {
        var first = MoeLayers.Select(l => l.Layer).FirstOrDefault();
        if (first is null) return new[] { 0 };
        return Enumerable.Range(0, first.Router.Phases).Select(p => (int)first.Router.Block(p).out_features).ToList();
    }
}

/// <summary>
/// The previous phase's model: a frozen copy of the dense trunk plus the student's own (frozen) old experts
/// and old router blocks, used in place. No expert weights are copied.
/// </summary>
public sealed class Teacher : IDisposable
{
    internal Teacher(MoeTransformer model, int phases)
    {
        Model = model;
        Phases = phases;
    }

    public MoeTransformer Model { get; }

    /// <summary>Router blocks the teacher sees.</summary>
    public int Phases { get; }

    /// <summary>Teacher logits (batch, tokens, vocab), computed without autograd.</summary>
    public Tensor Logits(Tensor idx)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var result = Model.Forward(idx, Phases);
        return result.Logits.MoveToOuterDisposeScope();
    }

    public void Dispose() => Model.Dispose();
}
