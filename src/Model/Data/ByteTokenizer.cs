using System.Text;

namespace LifelongMoE.Model.Data;

/// <summary>One token per UTF-8 byte: no vocabulary to learn, and bits per byte equal bits per token.</summary>
public sealed class ByteTokenizer : ITokenizer
{
    public static ByteTokenizer Instance { get; } = new();

    public string Name => "bytes";

    public int VocabSize => 256;

    // The NUL byte separates documents. Text never legitimately contains U+0000 (UTF-8 encodes
    // it as the single byte 0), so Encode drops any NUL it finds rather than let a document
    // smuggle in a false boundary.
    public int DocumentSeparator => 0;

    public int[] Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        int count = 0;
        foreach (var b in bytes)
        {
            if (b != 0) ids[count++] = b;
        }

        return count == ids.Length ? ids : ids[..count];
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] > 255)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {ids[i]} at {i} is not a byte");
            bytes[i] = (byte)ids[i];
        }

        return Encoding.UTF8.GetString(bytes);
    }
}
