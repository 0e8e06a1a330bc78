namespace LifelongMoE.Model.Data;

/// <summary>
/// Where a <see cref="TokenStream"/> stands before its next batch; small and plain so that a
/// checkpoint can store it. The current shuffle block starts at token
/// <paramref name="TokenOffset"/> of training document <paramref name="DocumentIndex"/>, and
/// <paramref name="Position"/> of its sequences have been emitted already.
/// </summary>
/// <param name="Block">0-based number of the shuffle block within <paramref name="Epoch"/>.</param>
/// <param name="TokenOffset">Offset into the document's tokens, its trailing separator included.</param>
public sealed record StreamCursor(int Epoch, long Block, int DocumentIndex, int TokenOffset, int Position);
