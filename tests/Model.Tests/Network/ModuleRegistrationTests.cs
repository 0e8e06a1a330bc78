using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Network;

/// <summary>
/// Every tensor of the model is a registered parameter under one PyTorch-style name, before and after growth,
/// so the optimizer, to(), state dicts and Dispose all reach it.
/// </summary>
[Collection(SerialTorchCollection.Name)]
public class ModuleRegistrationTests
{
    [Fact]
    public void Router_and_expert_weights_are_parameters_of_the_model()
    {
        using var model = new MoeTransformer(TinyModels.Config(experts: 3));

        var names = model.named_parameters().Select(p => p.name).ToList();

        Assert.Contains("blocks.1.moe.router.blocks.0.weight", names);
        foreach (var e in Enumerable.Range(0, 3))
            foreach (var t in new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" })
                Assert.Contains($"blocks.1.moe.experts.{e}.{t}", names);
    }

    [Fact]
    public void Each_parameter_is_listed_once_under_its_pytorch_name()
    {
        using var model = new MoeTransformer(TinyModels.Config());
        using var gen = new Generator(1);
        model.AddExperts(2, ExpansionInit.Copy, RouterInit.Zero, 0.01, gen);

        var names = model.state_dict().Keys.ToList();

        Assert.DoesNotContain(names, n => n.Contains("k__BackingField"));
        Assert.Equal(names.Count, model.named_parameters().Count());
        var modules = model.named_modules().Select(m => m.module).ToList();
        Assert.Equal(modules.Count, modules.Distinct().Count());
    }

    [Fact]
    public void Released_experts_leave_the_parameter_list_while_routing_keeps_every_column()
    {
        using var model = new MoeTransformer(TinyModels.Config());
        var layer = model.MoeLayers.Single().Layer;

        layer.ReleaseExperts();

        Assert.False(layer.HoldsExperts);
        Assert.Equal(4, layer.ExpertCount);
        Assert.Empty(layer.Experts);
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.DoesNotContain(names, n => n.Contains(".experts."));
        Assert.Contains("blocks.1.moe.router.blocks.0.weight", names);
    }

    [Fact]
    public void Converting_a_grown_layer_to_float64_converts_router_and_experts()
    {
        using var layer = new MoeLayer(8, 16, 2);
        using var gen = new Generator(1);
        foreach (var weights in layer.AddExperts(2, ExpansionInit.Copy, RouterInit.Zero, 0.01, gen))
            foreach (var t in weights.Values) t.Dispose();

        layer.to(ScalarType.Float64);

        // Two router blocks and four experts of four tensors each.
        Assert.Equal(2 + 4 * 4, layer.parameters().Count());
        Assert.All(layer.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        Assert.All(layer.Experts, e => Assert.Equal(ScalarType.Float64, e.StateDict()["fc2.weight"].dtype));
        Assert.Equal(ScalarType.Float64, layer.Router.Block(1).weight!.dtype);
    }
}
