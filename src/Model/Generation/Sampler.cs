using LifelongMoE.Model.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Generation;

/// <summary>How each next token is drawn from the model's distribution.</summary>
/// <param name="Temperature">divides the logits before the softmax; 0 always takes the most likely token</param>
/// <param name="TopK">draws only among the k most likely tokens; 0 draws among all of them</param>
/// <param name="Seed">seeds the sampler's own generator: the same seed, model and prompt give the same text</param>
public sealed record SamplingOptions(double Temperature = 1.0, int TopK = 0, ulong Seed = 0)
{
    public void Validate()
    {
        if (!double.IsFinite(Temperature) || Temperature < 0)
            throw new ArgumentException($"temperature {Temperature}: must be 0 (greedy) or more");
        if (TopK < 0) throw new ArgumentException($"top-k {TopK}: must be 0 (all tokens) or more");
    }
}

/// <summary>
/// Autoregressive decoding from a <see cref="MoeTransformer"/>: each token is drawn from the model's prediction
/// after the last context-length tokens so far. Every token runs under no_grad in a dispose scope of its own, so
/// the live tensor count stays flat however long the sample. The draws use a generator of their own on the CPU,
/// not torch's global one, so a seed gives the same text on any device and whatever else runs in the process.
/// There is no key/value cache: each token runs the whole window again, O(context²) work per token, which is
/// milliseconds at the sizes this project trains.
/// </summary>
public sealed class Sampler : IDisposable
{
    private readonly MoeTransformer model;
    private readonly SamplingOptions options;
    private readonly Generator generator;
    private readonly Device device;

    /// <summary>Samples on the device the model's parameters are on now.</summary>
    public Sampler(MoeTransformer model, SamplingOptions options)
    {
        options.Validate();
        this.model = model;
        this.options = options;
        generator = new Generator(options.Seed);
        device = model.parameters().First().device;
    }

    /// <summary>
    /// Yields up to <paramref name="maxTokens"/> tokens that continue <paramref name="prompt"/>, one model pass
    /// each, lazily: a caller that stops early (at a document separator, say) pays for no more.
    /// </summary>
    public IEnumerable<int> Continue(IReadOnlyList<int> prompt, int maxTokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        if (prompt.Count == 0) throw new ArgumentException("the prompt has no tokens; give at least one");

        return Tokens(prompt.ToList(), maxTokens);
    }

    private IEnumerable<int> Tokens(List<int> context, int maxTokens)
    {
        for (int i = 0; i < maxTokens; i++)
        {
            int next = Next(context);
            context.Add(next);
            yield return next;
        }
    }

    /// <summary>Draws the token that follows <paramref name="context"/> (at least one token).</summary>
    public int Next(IReadOnlyList<int> context)
    {
        if (context.Count == 0) throw new ArgumentException("the context has no tokens; give at least one");

        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            return Choose(LastLogits(context));
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    /// <summary>The model's logits for the token after the context, as float32 on the CPU; (vocab,).</summary>
    private Tensor LastLogits(IReadOnlyList<int> context)
    {
        int start = Math.Max(0, context.Count - model.Config.ContextLength);
        var window = new long[context.Count - start];
        for (int i = 0; i < window.Length; i++) window[i] = context[start + i];

        var idx = tensor(window, new long[] { 1, window.Length }).to(device);    // (1, tokens)
        var logits = model.Forward(idx, model.Phases).Logits;                      // (1, tokens, vocab)
        return logits[0, -1].to(ScalarType.Float32).cpu();                         // (vocab,)
    }

    private int Choose(Tensor logits)
    {
        if (options.Temperature == 0) return (int)logits.argmax().item<long>();

        // Shifted so the best logit is 0: a tiny temperature then sends the others to -inf, never the best to +inf.
        var scaled = (logits - logits.max()) / options.Temperature;                // (vocab,)
        if (options.TopK > 0 && options.TopK < scaled.shape[0])
        {
            // Scatter the k best back into a row of -inf: exactly k candidates, even where logits tie at the k-th.
            var (values, indices) = scaled.topk(options.TopK);                      // (k,), (k,)
            scaled = full_like(scaled, double.NegativeInfinity).scatter(0, indices, values);
        }

        var probs = nn.functional.softmax(scaled, 0);                              // (vocab,)
        return (int)probs.multinomial(1, generator: generator).item<long>();
    }

    public void Dispose() => generator.Dispose();
}
