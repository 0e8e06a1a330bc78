using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Network;

/// <summary>Adding experts and router columns to every MoE layer, and how the new ones start.</summary>
[Collection(SerialTorchCollection.Name)]
public class GrowthTests
{
    // Both blocks have an MoE layer, so every check covers more than one layer.
    private static ModelConfig Config => TinyModels.Config(dModel: 32, dFf: 64, moeEvery: 1);

    [Fact]
    public void Add_experts_grows_every_layer_by_one_router_block_of_the_new_experts()
    {
        using var model = TinyModels.Model(Config, 1);
        using var gen = new Generator(2);

        model.AddExperts(3, ExpansionInit.Copy, RouterInit.Zero, 0.01, gen);

        Assert.Equal(2, model.MoeBlocks.Count);
        Assert.Equal(new[] { 4, 3 }, model.ExpertsPerPhase());
        Assert.Equal(7, model.ExpertsPerLayer);
        Assert.Equal(2, model.Phases);
        foreach (var (block, layer) in model.MoeLayers)
        {
            Assert.Equal(7, layer.ExpertCount);
            Assert.Equal(7, layer.Experts.Count);
            Assert.Equal(2, layer.Router.Phases);
            Assert.Equal(new long[] { 3, 32 }, layer.Router.Block(1).weight!.shape);
            Assert.Equal(new long[] { 5, 7 }, layer.Router.Logits(ones(5, 32), 2).shape);
            // The new tensors are parameters of the model: the optimizer, to() and checkpoints see them.
            var names = model.named_parameters().Select(p => p.name).ToHashSet();
            Assert.Contains($"blocks.{block}.moe.router.blocks.1.weight", names);
            Assert.Contains($"blocks.{block}.moe.experts.6.fc2.bias", names);
        }
    }

    [Fact]
    public void Copied_experts_equal_their_source_plus_noise_of_the_configured_std()
    {
        using var model = TinyModels.Model(Config, 3);
        using var gen = new Generator(4);
        var before = model.MoeLayers.Select(l => l.Layer.Experts.Select(e => e.StateDict()
            .ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone())).ToList()).ToList();

        model.AddExperts(6, ExpansionInit.Copy, RouterInit.Zero, 0.01, gen);

        var diffs = new List<float>();
        foreach (var (layer, old) in model.MoeLayers.Select(l => l.Layer).Zip(before))
        {
            for (int j = 0; j < 6; j++)
            {
                // New expert j copies old expert j mod 4: 0, 1, 2, 3, 0, 1.
                var source = old[j % 4];
                foreach (var (name, w) in layer.Experts[4 + j].StateDict())
                    diffs.AddRange((w - source[name]).detach().data<float>().ToArray());
            }
        }
        double mean = diffs.Average(d => (double)d);
        double std = Math.Sqrt(diffs.Average(d => (d - mean) * (d - mean)));

        Assert.True(diffs.Count > 50_000);
        Assert.InRange(std, 0.009, 0.011);
        Assert.InRange(mean, -4 * 0.01 / Math.Sqrt(diffs.Count), 4 * 0.01 / Math.Sqrt(diffs.Count));
    }

    [Fact]
    public void Random_experts_differ_from_every_source_with_small_matrices_and_zero_biases()
    {
        using var model = TinyModels.Model(Config, 5);
        using var gen = new Generator(6);

        model.AddExperts(2, ExpansionInit.Random, RouterInit.Zero, 0.01, gen);

        foreach (var (_, layer) in model.MoeLayers)
        {
            foreach (var fresh in layer.Experts.Skip(4).Select(e => e.StateDict()))
            {
                foreach (var old in layer.Experts.Take(4).Select(e => e.StateDict()))
                    Assert.True((fresh["fc1.weight"] - old["fc1.weight"]).abs().max().item<float>() > 0.02);
                Assert.Equal(0, fresh["fc1.bias"].abs().sum().item<float>());
                Assert.Equal(0, fresh["fc2.bias"].abs().sum().item<float>());
                Assert.InRange(fresh["fc1.weight"].std().item<float>(), 0.018, 0.022);
            }
        }
    }

    [Fact]
    public void Zero_router_init_gives_zero_columns()
    {
        using var model = TinyModels.Model(Config, 7);
        using var gen = new Generator(8);

        model.AddExperts(2, ExpansionInit.Copy, RouterInit.Zero, 0.01, gen);

        foreach (var (_, layer) in model.MoeLayers)
        {
            Assert.Equal(0, layer.Router.Block(1).weight!.abs().sum().item<float>());
            Assert.NotEqual(0, layer.Router.Block(0).weight!.abs().sum().item<float>());
        }
    }

    [Fact]
    public void Copy_router_init_copies_the_source_experts_column()
    {
        using var model = TinyModels.Model(Config, 9);
        using var gen = new Generator(10);
        model.AddExperts(2, ExpansionInit.Copy, RouterInit.Copy, 0.01, gen);

        // A second growth copies from the 6 experts of both earlier blocks: sources 0..5, then 0 and 1.
        model.AddExperts(8, ExpansionInit.Copy, RouterInit.Copy, 0.01, gen);

        foreach (var (_, layer) in model.MoeLayers)
        {
            var all = layer.Router.Logits(eye(32), 3).t();                    // (experts, d_model): the columns
            Assert.Equal(new long[] { 14, 32 }, all.shape);
            for (int j = 0; j < 2; j++) Assert.True(TinyModels.Identical(all[4 + j], all[j]));
            for (int j = 0; j < 8; j++) Assert.True(TinyModels.Identical(all[6 + j], all[j % 6]));
        }
    }
}
