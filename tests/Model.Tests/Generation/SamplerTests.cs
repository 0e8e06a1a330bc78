using LifelongMoE.Model.Data;
using LifelongMoE.Model.Generation;
using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Tests.Generation;

/// <summary>Sampling from a tiny random model: greedy, seeded, temperature and top-k, and flat memory.</summary>
[Collection(SerialTorchCollection.Name)]
public class SamplerTests
{
    // Longer than the tiny model's context of 16, so the window is cropped for most tokens.
    private const int Tokens = 40;
    private static readonly int[] Prompt = [1, 2, 3];

    [Fact]
    public void Greedy_is_deterministic_and_takes_the_argmax_of_the_logits_at_every_step()
    {
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config, 5);

        var first = Sample(model, new SamplingOptions(Temperature: 0, Seed: 1));
        var second = Sample(model, new SamplingOptions(Temperature: 0, Seed: 2));

        Assert.Equal(first, second);
        var context = Prompt.ToList();
        foreach (var token in first)
        {
            Assert.Equal(Argmax(LastLogits(model, context)), token);
            context.Add(token);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_sample_and_another_seed_a_different_one()
    {
        using var model = TinyModels.Model(TinyModels.Config(), 6);

        var a = Sample(model, new SamplingOptions(Temperature: 1, Seed: 11));
        var b = Sample(model, new SamplingOptions(Temperature: 1, Seed: 11));
        var c = Sample(model, new SamplingOptions(Temperature: 1, Seed: 12));

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Top_k_draws_only_among_the_k_most_likely_tokens()
    {
        using var model = TinyModels.Model(TinyModels.Config(), 7);

        // A high temperature flattens the distribution, so without the cut most draws would fall outside the top 3.
        var sample = Sample(model, new SamplingOptions(Temperature: 5, TopK: 3, Seed: 3));

        var context = Prompt.ToList();
        foreach (var token in sample)
        {
            var logits = LastLogits(model, context);
            var top3 = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).Take(3).ToList();
            Assert.Contains(token, top3);
            context.Add(token);
        }
        Assert.True(sample.Distinct().Count() > 1, "top-3 sampling at temperature 5 never left the argmax");
    }

    [Fact]
    public void Top_k_of_one_is_greedy_whatever_the_temperature()
    {
        using var model = TinyModels.Model(TinyModels.Config(), 8);

        var greedy = Sample(model, new SamplingOptions(Temperature: 0));
        var topOne = Sample(model, new SamplingOptions(Temperature: 10, TopK: 1, Seed: 4));

        Assert.Equal(greedy, topOne);
    }

    [Fact]
    public void A_lower_temperature_draws_the_most_likely_token_more_often()
    {
        using var model = PeakedModel(9);
        var context = Prompt.ToList();
        int best = Argmax(LastLogits(model, context));

        int Hits(double temperature)
        {
            using var sampler = new Sampler(model, new SamplingOptions(temperature, Seed: 5));
            return Enumerable.Range(0, 200).Count(_ => sampler.Next(context) == best);
        }

        int cold = Hits(0.3), hot = Hits(3);
        Assert.True(cold > hot + 20, $"the most likely token was drawn {cold} times at 0.3 and {hot} times at 3");
    }

    [Fact]
    public void Live_tensor_count_stays_flat_over_100_tokens()
    {
        using var model = TinyModels.Model(TinyModels.Config(), 10);
        using var sampler = new Sampler(model, new SamplingOptions(Temperature: 1, TopK: 5, Seed: 6));
        // The count is per thread, so tests running on other threads cannot disturb it.
        long LiveTensors() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        long afterTen = 0;
        int produced = 0;
        foreach (var _ in sampler.Continue(Prompt, 100))
        {
            if (++produced == 10) afterTen = LiveTensors();
        }

        Assert.Equal(100, produced);
        Assert.True(afterTen > 0);
        Assert.Equal(afterTen, LiveTensors());
    }

    [Fact]
    public void Sampling_leaves_a_training_model_in_training_mode()
    {
        using var model = TinyModels.Model(TinyModels.Config(), 11);
        model.train();

        Sample(model, new SamplingOptions(Temperature: 0));

        Assert.True(model.training);
    }

    [Fact]
    public void Bad_options_and_an_empty_prompt_are_refused_up_front()
    {
        using var model = TinyModels.Model(TinyModels.Config(), 12);

        Assert.Throws<ArgumentException>(() => new Sampler(model, new SamplingOptions(Temperature: -1)));
        Assert.Throws<ArgumentException>(() => new Sampler(model, new SamplingOptions(Temperature: double.NaN)));
        Assert.Throws<ArgumentException>(() => new Sampler(model, new SamplingOptions(TopK: -2)));
        using var sampler = new Sampler(model, new SamplingOptions());
        Assert.Throws<ArgumentException>(() => sampler.Continue([], 5));
    }

    [Fact]
    public void A_byte_sample_cut_off_inside_a_character_still_decodes()
    {
        // "h" and the first two of the three UTF-8 bytes of "€": a sample may stop anywhere.
        var text = ByteTokenizer.Instance.Decode([(int)'h', 0xE2, 0x82]);

        Assert.Equal("h\uFFFD", text);
    }

    private static List<int> Sample(MoeTransformer model, SamplingOptions options)
    {
        using var sampler = new Sampler(model, options);
        return sampler.Continue(Prompt, Tokens).ToList();
    }

    /// <summary>The model's own logits for the token after the context, computed apart from the sampler.</summary>
    private static float[] LastLogits(MoeTransformer model, List<int> context)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var window = context.TakeLast(model.Config.ContextLength).Select(t => (long)t).ToArray();
        var logits = model.Forward(tensor(window, new long[] { 1, window.Length }), model.Phases).Logits;
        return logits[0, -1].data<float>().ToArray();
    }

    private static int Argmax(float[] logits) =>
        Enumerable.Range(0, logits.Length).MaxBy(i => logits[i]);

    /// <summary>
    /// A random model's logits are nearly uniform (weights of std 0.02); a larger LM head makes one token
    /// clearly the most likely, so temperature has something to sharpen or flatten.
    /// </summary>
    private static MoeTransformer PeakedModel(long seed)
    {
        var model = TinyModels.Model(TinyModels.Config(), seed);
        using var _ = no_grad();
        model.named_parameters().Single(p => p.name == "lm_head.weight").parameter.mul_(100);
        return model;
    }
}
