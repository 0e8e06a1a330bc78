using LifelongMoE.Model.Network;
using LifelongMoE.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Network;

/// <summary>
/// The teacher is the model as it was at the end of the phase, and it never owns the student's experts.
/// </summary>
[Collection(SerialTorchCollection.Name)]
public class TeacherTests
{
    private static Tensor Input(ModelConfig config) =>
        tensor(TinyModels.Tokens(3, config.ContextLength - 1, config.VocabSize, 42),
            new long[] { 3, config.ContextLength });

    private static Tensor Logits(MoeTransformer model, Tensor idx)
    {
        using var _ = no_grad();
        return model.Forward(idx).Logits;
    }

    [Fact]
    public void Teacher_logits_after_growth_equal_the_logits_before_it()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config(capacityFactor: 1.25);
        using var model = TinyModels.Model(config, 1);
        var idx = Input(config);
        var before = Logits(model, idx);

        using var teacher = model.CreateTeacher();
        model.FreezeExperts();
        using var gen = new Generator(2);
        model.AddExperts(2, ExpansionInit.Copy, RouterInit.Zero, 0.01, gen);

        Assert.True(TinyModels.Identical(before, teacher.Logits(idx)));
        // The grown student routes over six experts now, so it no longer computes the same function.
        Assert.False(TinyModels.Identical(before, Logits(model, idx)));
    }

    [Fact]
    public void Teacher_logits_stay_exact_while_the_student_trains_on()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config, 3);
        var idx = Input(config);
        var before = Logits(model, idx);
        using var trainer = new InProcessTrainer(model, new TrainOptions(LearningRate: 1e-2, WarmupSteps: 0));
        using var gen = new Generator(4);

        trainer.BeginPhase(10, shift: true, new GrowthOptions(), gen);
        for (int step = 0; step < 5; step++)
            trainer.Step(TinyModels.CountingTokens(4, config.ContextLength, config.VocabSize, step), 4);

        Assert.NotNull(trainer.Teacher);
        Assert.True(TinyModels.Identical(before, trainer.Teacher!.Logits(idx)));
        Assert.False(TinyModels.Identical(before, Logits(model, idx)));
    }

    [Fact]
    public void Disposing_the_teacher_leaves_the_students_experts_and_routers_alive()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config, 5);
        var idx = Input(config);
        var teacher = model.CreateTeacher();
        var expected = Logits(model, idx);

        teacher.Dispose();

        // A disposed expert or router block would throw here, or compute from freed memory.
        Assert.True(TinyModels.Identical(expected, Logits(model, idx)));
        foreach (var (_, layer) in model.MoeLayers)
        {
            Assert.All(layer.Experts, e => Assert.Equal(4, e.parameters().Count(p => p.numel() > 0)));
            Assert.Equal(config.DModel * config.InitialExperts, layer.Router.Block(0).weight!.numel());
        }
    }

    [Fact]
    public void Teacher_holds_a_frozen_copy_of_the_trunk_and_no_expert_or_router_parameter()
    {
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config, 6);

        using var teacher = model.CreateTeacher();

        var names = teacher.Model.named_parameters().Select(p => p.name).ToList();
        Assert.DoesNotContain(names, n => n.Contains(".moe."));
        Assert.All(teacher.Model.parameters(), p => Assert.False(p.requires_grad));
        var trunk = model.TrunkStateDict();
        foreach (var (name, p) in teacher.Model.named_parameters())
        {
            Assert.True(TinyModels.Identical(trunk[name], p));
            Assert.NotEqual(trunk[name].Handle, p.Handle);
        }
    }
}
