using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Training;

public static class Losses
{
    /// <summary>Mean next-token cross-entropy in nats.</summary>
    /// <param name="logits">(batch, tokens, vocab)</param>
    /// <param name="targets">(batch, tokens)</param>
    public static Tensor NextToken(Tensor logits, Tensor targets) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));

    /// <summary>
    /// KL(teacher || student) of the next-token distributions at temperature T, averaged over tokens and
    /// multiplied by T^2 so its gradient scale does not depend on T (Hinton et al.).
    /// </summary>
    /// <param name="student">(batch, tokens, vocab) logits</param>
    /// <param name="teacher">(batch, tokens, vocab) logits, no gradient</param>
    public static Tensor Distillation(Tensor student, Tensor teacher, double temperature)
    {
        long vocab = student.shape[^1];
        var logP = nn.functional.log_softmax(student.reshape(-1, vocab) / temperature, -1);   // (tokens, vocab)
        var logQ = nn.functional.log_softmax(teacher.reshape(-1, vocab) / temperature, -1);
        var kl = (logQ.exp() * (logQ - logP)).sum(-1).mean();
        return kl * (temperature * temperature);
    }
}
