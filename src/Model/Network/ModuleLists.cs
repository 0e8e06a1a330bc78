using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LifelongMoE.Model.Network;

/// <summary>
/// Growing a TorchSharp <see cref="ModuleList{T}"/> after it has been registered. The list registers its
/// items once, when it is itself registered with its parent; an item added later is invisible to
/// parameters(), state dicts, to() and Dispose unless it is registered by hand. Router blocks and experts
/// are added long after construction, so every addition goes through here.
/// </summary>
internal static class ModuleLists
{
    /// <summary>Appends <paramref name="module"/> and registers it under its index, as PyTorch names it.</summary>
    public static void AddRegistered<T>(this ModuleList<T> list, T module) where T : nn.Module
    {
        list.Add(module);
        list.register_module($"{list.Count - 1}", module);
    }

    /// <summary>Empties the list and unregisters its items; disposing them is the caller's business.</summary>
    public static void ClearRegistered<T>(this ModuleList<T> list) where T : nn.Module
    {
        // register_module with no module removes the registration of that name.
        for (int i = 0; i < list.Count; i++) list.register_module($"{i}", null!);
        list.Clear();
    }
}
