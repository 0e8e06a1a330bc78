using LifelongMoE.Model.Network;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Network;

/// <summary>Which assignments the capacity limit drops, worked out by hand.</summary>
[Collection(SerialTorchCollection.Name)]
public class RoutingCapacityTests
{
    // 6 tokens x 3 experts with first/second choices: t0 (0,1), t1 (0,2), t2 (0,1), t3 (1,0), t4 (2,0), t5 (0,2).
    private static readonly double[][] Logits =
    {
        new[] { 3.0, 2.0, 0.0 },
        new[] { 3.0, 0.0, 2.0 },
        new[] { 3.0, 2.0, 0.0 },
        new[] { 2.0, 3.0, 0.0 },
        new[] { 2.0, 0.0, 3.0 },
        new[] { 3.0, 0.0, 2.0 },
    };

    [Fact]
    public void Capacity_serves_all_first_choices_before_any_second_choice_in_token_order()
    {
        using var scope = NewDisposeScope();
        // capacity = ceil(0.5 * 6 tokens * 2 / 3 experts) = 2.
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(Logits), topK: 2, capacityFactor: 0.5);

        // First choices: expert 0 is wanted by t0, t1, t2, t5 and keeps t0, t1; experts 1 and 2 keep t3, t4.
        // Second choices (expert 0 already full, experts 1 and 2 hold one each): t0 -> 1 kept, t1 -> 2 kept,
        // then t2 -> 1 and t5 -> 2 find them full, and t3, t4 -> 0 find expert 0 full.
        var expectedKeep = new[] { true, true, true, true, false, false, true, false, true, false, false, false };
        Assert.Equal(2, routing.Capacity);
        Assert.Equal(expectedKeep, routing.Keep.data<bool>().ToArray());
        Assert.Equal(6, routing.Dropped);
        Assert.Equal(new long[] { 2, 2, 2 }, routing.Load);
        Assert.Equal(new long[] { 0, 1 }, routing.Groups[0].TokenIndex.data<long>().ToArray());
        Assert.Equal(new long[] { 0, 3 }, routing.Groups[1].TokenIndex.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 4 }, routing.Groups[2].TokenIndex.data<long>().ToArray());
    }

    [Fact]
    public void Top_1_capacity_drops_the_latest_tokens_of_an_overloaded_expert()
    {
        using var scope = NewDisposeScope();
        // capacity = ceil(1.0 * 6 * 1 / 3) = 2; expert 0 is the first choice of t0, t1, t2, t5.
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(Logits), topK: 1, capacityFactor: 1.0);

        Assert.Equal(2, routing.Capacity);
        Assert.Equal(new[] { true, true, false, true, true, false }, routing.Keep.data<bool>().ToArray());
        Assert.Equal(2, routing.Dropped);
        Assert.Equal(new long[] { 2, 1, 1 }, routing.Load);
    }

    [Fact]
    public void Dropless_mode_keeps_every_assignment()
    {
        using var scope = NewDisposeScope();
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(Logits), topK: 2, capacityFactor: 0);

        Assert.Equal(-1, routing.Capacity);
        Assert.All(routing.Keep.data<bool>().ToArray(), Assert.True);
        Assert.Equal(0, routing.Dropped);
        // Expert 0: four first choices and two second; expert 1: t3 first, t0 and t2 second; expert 2 alike.
        Assert.Equal(new long[] { 6, 3, 3 }, routing.Load);
    }

    [Fact]
    public void Capacity_is_the_exact_ceiling_even_where_binary_rounding_overshoots()
    {
        // 1.1 * 25 * 2 / 5 is 11 exactly, but 11.000000000000002 in binary floating point.
        Assert.Equal(11, Routing.ExpertCapacity(1.1, 25, 2, 5));
        Assert.Equal(2, Routing.ExpertCapacity(0.5, 6, 2, 3));
        Assert.Equal(3, Routing.ExpertCapacity(1.25, 7, 1, 3));

        using var scope = NewDisposeScope();
        // Every one of 25 tokens wants experts 0 then 1: expert 0 must stop at 11 tokens, not 12.
        var row = new[] { 4.0, 3.0, 0.0, 0.0, 0.0 };
        var routing = Routing.Route(RoutingTopKTests.LogitTensor(Enumerable.Repeat(row, 25).ToArray()), 2, 1.1);
        Assert.Equal(11, routing.Load[0]);
        Assert.Equal(50 - 22, routing.Dropped);
    }

    [Fact]
    public void A_token_whose_assignments_are_all_dropped_gets_a_zero_update()
    {
        using var scope = NewDisposeScope();
        using var layer = new MoeLayer(3, 8, 3);
        // With the router 40 * identity, the logits are 40 * the token rows: the preferences of Logits.
        using (no_grad()) layer.Router.Block(0).weight!.copy_(eye(3) * 40);
        var x = RoutingTopKTests.LogitTensor(Logits);

        var (y, routing) = layer.Forward(x, phases: 1, topK: 2, capacityFactor: 0.5);

        Assert.Equal(6, routing.Dropped);
        Assert.Equal(0, y[2].abs().sum().item<float>());
        Assert.Equal(0, y[5].abs().sum().item<float>());
        Assert.NotEqual(0, y[0].abs().sum().item<float>());
    }
}
