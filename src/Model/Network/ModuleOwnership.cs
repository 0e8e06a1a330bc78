using TorchSharp;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

public static class ModuleOwnership
{
    /// <summary>
    /// Parameters created while a dispose scope is open belong to that scope and would be disposed with it.
    /// A module owns its parameters for its whole life (and disposes them itself), so every module of this
    /// project takes them out of any scope it was built in; experts grown inside an actor's handler survive it.
    /// </summary>
    public static void KeepOutOfDisposeScopes(nn.Module module)
    {
        foreach (var p in module.parameters()) p.DetachFromDisposeScope();
        foreach (var b in module.buffers()) b.DetachFromDisposeScope();
    }
}
