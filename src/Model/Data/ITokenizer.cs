namespace LifelongMoE.Model.Data;

/// <summary>Turns text into token ids and back. Implementations are thread-safe.</summary>
public interface ITokenizer
{
    /// <summary>The name <see cref="Tokenizers.Create"/> accepts for this tokenizer.</summary>
    string Name { get; }

    /// <summary>One more than the largest id <see cref="Encode"/> or the separator can produce.</summary>
    int VocabSize { get; }

    /// <summary>The id placed between documents when they are packed into sequences.</summary>
    int DocumentSeparator { get; }

    /// <summary>Encodes text; never produces <see cref="DocumentSeparator"/>, whatever the text holds.</summary>
    int[] Encode(string text);

    string Decode(ReadOnlySpan<int> ids);
}
