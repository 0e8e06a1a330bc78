namespace LifelongMoE.Model.Data;

/// <summary>
/// Packs documents, each followed by the tokenizer's separator, into one token stream and cuts
/// it into windows of SequenceLength + 1 tokens. Consecutive windows share one token (the
/// stride is SequenceLength), so every token after the first is a target exactly once; a last
/// window that would be short is dropped.
/// </summary>
internal sealed class SequencePacker : IDisposable
{
    private readonly IEnumerator<(int Index, string Text)> _documents;
    private readonly ITokenizer _tokenizer;
    private readonly int _stride;
    private readonly Queue<TokenizedDocument> _pending = new();
    private readonly Action<TokenizedDocument>? _onDocument;
    private int _head;
    private long _available;

    /// <param name="documents">The documents to pack, in order; the packer owns the enumeration.</param>
    /// <param name="start">Where to begin: a document index in <paramref name="documents"/> and a
    /// token offset into it; null for the first token of the first document.</param>
    /// <param name="onDocument">Called with each document as it is tokenized, in order.</param>
    public SequencePacker(
        IEnumerable<(int Index, string Text)> documents, ITokenizer tokenizer, int sequenceLength,
        (int DocumentIndex, int TokenOffset)? start = null, Action<TokenizedDocument>? onDocument = null)
    {
        _documents = documents.GetEnumerator();
        _tokenizer = tokenizer;
        _stride = sequenceLength;
        _onDocument = onDocument;
        if (start is { } s) SeekTo(s.DocumentIndex, s.TokenOffset);
    }

    public int Width => _stride + 1;

    /// <summary>Where the next window starts, or null once the documents are used up.</summary>
    public (int DocumentIndex, int TokenOffset)? Position
    {
        get
        {
            if (_pending.Count == 0 && !LoadNext()) return null;

            return (_pending.Peek().Index, _head);
        }
    }

    /// <summary>Writes the next window into <paramref name="window"/> (length Width); false at the end.</summary>
    public bool TryNext(Span<int> window)
    {
        while (_available < Width && LoadNext()) { }
        if (_available < Width) return false;

        CopyWindow(window);
        Advance();
        return true;
    }

    public void Dispose() => _documents.Dispose();

    private void CopyWindow(Span<int> window)
    {
        int offset = _head, written = 0;
        foreach (var document in _pending)
        {
            int take = Math.Min(document.Tokens.Length - offset, window.Length - written);
            document.Tokens.AsSpan(offset, take).CopyTo(window[written..]);
            written += take;
            offset = 0;
            if (written == window.Length) break;
        }
    }

    private void Advance()
    {
        _head += _stride;
        _available -= _stride;
        while (_head >= _pending.Peek().Tokens.Length)
        {
            _head -= _pending.Dequeue().Tokens.Length;
        }
    }

    private bool LoadNext()
    {
        if (!_documents.MoveNext()) return false;

        var (index, text) = _documents.Current;
        Enqueue(new TokenizedDocument(index, text, WithSeparator(_tokenizer.Encode(text))));
        return true;
    }

    private void Enqueue(TokenizedDocument document)
    {
        _pending.Enqueue(document);
        _available += document.Tokens.Length;
        _onDocument?.Invoke(document);
    }

    private int[] WithSeparator(int[] tokens)
    {
        var joined = new int[tokens.Length + 1];
        tokens.CopyTo(joined, 0);
        joined[^1] = _tokenizer.DocumentSeparator;
        return joined;
    }

    // Skips to a position recorded earlier. The documents before it are read but not tokenized.
    private void SeekTo(int documentIndex, int tokenOffset)
    {
        while (_documents.MoveNext())
        {
            var (index, text) = _documents.Current;
            if (index < documentIndex) continue;

            if (index > documentIndex) break;

            var tokens = WithSeparator(_tokenizer.Encode(text));
            if (tokenOffset < 0 || tokenOffset >= tokens.Length)
                throw new ArgumentException(
                    $"token offset {tokenOffset} is outside document {documentIndex} ({tokens.Length} tokens)");

            Enqueue(new TokenizedDocument(index, text, tokens));
            _head = tokenOffset;
            _available -= tokenOffset;
            return;
        }

        throw new ArgumentException($"document {documentIndex} is not among the documents being packed");
    }
}

/// <summary>A document's text and its tokens followed by the separator.</summary>
internal sealed record TokenizedDocument(int Index, string Text, int[] Tokens);
