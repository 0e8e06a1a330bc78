using System.Runtime.CompilerServices;
using TorchSharp;

namespace LifelongMoE.Model.Tests;

internal static class TorchThreads
{
    // With more busy threads than cores, libtorch's spinning intra-op workers slow small-tensor work by an order
    // of magnitude or more (measured here: 16 ms against 765 ms per step of the tiny model on two loaded cores).
    // Test models are tiny and xunit runs test classes in parallel, so one intra-op thread each is faster.
    [ModuleInitializer]
    internal static void UseOneIntraOpThread() => torch.set_num_threads(1);
}
