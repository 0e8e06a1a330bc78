using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>How new experts start when a layer grows.</summary>
public enum ExpansionInit { Copy, Random }

/// <summary>How new router columns start when a layer grows.</summary>
public enum RouterInit { Zero, Copy }

/// <summary>Per-layer routing counters accumulated over steps, for monitoring.</summary>
public sealed class MoeStats
{
    public long[] Load { get; private set; } = Array.Empty<long>();
    public long Dropped { get; private set; }
    public long Assignments { get; private set; }

    public void Add(Routing r)
    {
        if (Load.Length < r.Load.Length) Load = Load.Concat(new long[r.Load.Length - Load.Length]).ToArray();
        for (int i = 0; i < r.Load.Length; i++) Load[i] += r.Load[i];
        Dropped += r.Dropped;
        Assignments += r.Load.Sum() + r.Dropped;
    }

    public void Reset() { Load = new long[Load.Length]; Dropped = 0; Assignments = 0; }
}

/// <summary>A router and its experts. Expert i of the layer is column i of the router's logits.</summary>
public sealed class MoeLayer : nn.Module
{
    private readonly ModuleList<Expert> experts = new();
    private readonly int dModel, dFf;

    public MoeLayer(int dModel, int dFf, int initialExperts) : base("MoeLayer")
    {
        this.dModel = dModel;
        this.dFf = dFf;
        Router = new Router(dModel, initialExperts);
        register_module("router", Router);
        register_module("experts", experts);
        for (int i = 0; i < initialExperts; i++) experts.AddRegistered(new Expert(dModel, dFf));
    }

    public Router Router { get; }

    // The router and experts are registered by hand; TorchSharp's reflection would register the router a second
    // time under its backing field's name (see Block).
    protected override void RegisterComponents() { }

    public IReadOnlyList<Expert> Experts => experts.ToList();

    /// <summary>Routing counters of the student's forward passes (teacher passes are not counted).</summary>
    public MoeStats Stats { get; } = new();

    /// <summary>
    /// Routes the flattened tokens with the router blocks of the first <paramref name="phases"/> phases.
    /// </summary>
    /// <param name="x">(tokens, d_model)</param>
    public Routing Route(Tensor x, int phases, int topK, double capacityFactor)
    {
        return Routing.Route(Router.Logits(x, phases), topK, capacityFactor);
    }

    /// <summary>In-process forward: every expert is local.</summary>
    /// <param name="x">(tokens, d_model)</param>
    public (Tensor Output, Routing Routing) Forward(Tensor x, int phases, int topK, double capacityFactor)
    {
        var routing = Route(x, phases, topK, capacityFactor);
        var outputs = routing.Groups.Select(g => experts[g.Expert].forward(x.index_select(0, g.TokenIndex))).ToList();
        var y = Routing.Combine(x.shape[0], dModel, routing.Groups, outputs, x.dtype, x.device);
        return (y, routing);
    }

    /// <summary>Experts of the layer: router columns over all phases (local or not).</summary>
    public int ExpertCount => Router.ExpertCount(Router.Phases);

    /// <summary>True while this layer holds its experts' modules; false once they live elsewhere (actors).</summary>
    public bool HoldsExperts => experts.Count == ExpertCount;

    /// <summary>
    /// Adds <paramref name="n"/> experts and one router block of <paramref name="n"/> columns, and returns the
    /// new experts' weights, which the caller owns (a local layer loads copies of them into its own experts).
    /// With <see cref="ExpansionInit.Copy"/> new expert j copies expert (j mod old_count)
    /// plus Gaussian noise of standard deviation <paramref name="noiseStd"/>; with Random its matrices are drawn
    /// from N(0, 0.02) and biases start at zero. Router columns copy the same source when
    /// <see cref="RouterInit.Copy"/>, else start at zero (new experts start at the mean logit).
    /// When the experts live elsewhere, <paramref name="sourceWeights"/> supplies the weights of an old expert.
    /// </summary>
    public IReadOnlyList<Dictionary<string, Tensor>> AddExperts(int n, ExpansionInit init, RouterInit routerInit,
        double noiseStd, Generator generator, Func<int, IReadOnlyDictionary<string, Tensor>>? sourceWeights = null)
    {
        int old = ExpertCount;
        bool local = HoldsExperts;
        var reference = Router.Block(0).weight!;
        var block = Router.AddBlock(n);
        var created = new List<Dictionary<string, Tensor>>();

        using var _ = no_grad();
        for (int j = 0; j < n; j++)
        {
            int source = j % old;
            var from = local ? experts[source].StateDict() : sourceWeights!(source);
            var weights = ExpertInit.Create(from, init, noiseStd, generator);
            if (local)
            {
                var expert = new Expert(dModel, dFf, reference.device, reference.dtype);
                expert.LoadWeights(weights);
                experts.AddRegistered(expert);
            }
            created.Add(weights);

            var column = block.weight![j];
            if (routerInit == RouterInit.Copy) column.copy_(RouterColumn(source));
            else column.zero_();
        }
        return created;
    }

    /// <summary>
    /// Disposes the local expert modules once the experts are owned elsewhere; routing is unchanged.
    /// </summary>
    public void ReleaseExperts()
    {
        foreach (var e in experts) e.Dispose();
        experts.ClearRegistered();
    }

    private Tensor RouterColumn(int expert)
    {
        int offset = 0;
        for (int p = 0; p < Router.Phases; p++)
        {
            var w = Router.Block(p).weight!;
            if (expert < offset + w.shape[0]) return w[expert - offset];
            offset += (int)w.shape[0];
        }
        throw new ArgumentOutOfRangeException(nameof(expert));
    }

    /// <summary>Stops gradients to every router block and expert that exists now.</summary>
    public void FreezeExisting()
    {
        for (int p = 0; p < Router.Phases; p++) Router.Block(p).weight!.requires_grad = false;
        foreach (var e in experts) e.SetFrozen(true);
    }

    /// <summary>Makes every router block and expert trainable again.</summary>
    public void UnfreezeAll()
    {
        for (int p = 0; p < Router.Phases; p++) Router.Block(p).weight!.requires_grad = true;
        foreach (var e in experts) e.SetFrozen(false);
    }
}
