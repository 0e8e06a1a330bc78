namespace LifelongMoE.Model.Data;

/// <summary>
/// Endless training batches from one distribution. The training documents (held-out ones are
/// skipped) are packed into sequences of SequenceLength + 1 tokens, documents joined by the
/// tokenizer's separator; every <see cref="TokenStreamOptions.ShuffleBlock"/> consecutive
/// sequences are permuted by a generator seeded from (seed, epoch, block); batches are drawn in
/// that order, across block and epoch boundaries. Each epoch repacks the corpus from its first
/// document and shuffles anew.
/// </summary>
/// <remarks>
/// The shuffle is local: sequences move only within their block, so the order of blocks in an
/// epoch follows the corpus. In exchange memory stays at one block, and the position fits in a
/// <see cref="StreamCursor"/>: a stream built from <see cref="Cursor"/> continues with exactly the
/// batches this one would have produced. Not thread-safe.
/// </remarks>
public sealed class TokenStream : IDisposable
{
    private readonly DistributionSpec _spec;
    private readonly HoldoutRule _holdout;
    private readonly ITokenizer _tokenizer;
    private readonly int[] _block;
    private readonly int[] _order;
    private SequencePacker _packer;
    private int _epoch;
    private long _blockNumber;
    private (int DocumentIndex, int TokenOffset) _blockStart;
    private int _count;
    private int _position;

    /// <param name="cursor">Where to resume; null to start at the first training document.</param>
    /// <exception cref="CorpusException">A file is bad, or the training text is shorter than one sequence.</exception>
    public TokenStream(
        DistributionSpec spec, HoldoutRule holdout, ITokenizer tokenizer, TokenStreamOptions options,
        StreamCursor? cursor = null)
    {
        _spec = spec;
        _holdout = holdout;
        _tokenizer = tokenizer;
        Options = options;
        _block = new int[options.ShuffleBlock * (options.SequenceLength + 1)];
        _order = new int[options.ShuffleBlock];

        if (cursor is null)
        {
            _packer = OpenPacker(null);
            FillBlock();
            if (_count == 0) throw TooShort();
        }
        else
        {
            _packer = OpenPacker((cursor.DocumentIndex, cursor.TokenOffset));
            _epoch = cursor.Epoch;
            _blockNumber = cursor.Block;
            FillBlock();
            if (cursor.Position < 0 || cursor.Position >= _count)
                throw new ArgumentException($"cursor position {cursor.Position} is outside its block of {_count}");

            _position = cursor.Position;
        }
    }

    public TokenStreamOptions Options { get; }

    /// <summary>The position before the next batch.</summary>
    public StreamCursor Cursor =>
        new(_epoch, _blockNumber, _blockStart.DocumentIndex, _blockStart.TokenOffset, _position);

    public TokenBatch Next()
    {
        int width = Options.SequenceLength + 1;
        var tokens = new long[Options.BatchSize * width];
        for (int row = 0; row < Options.BatchSize; row++)
        {
            var sequence = _block.AsSpan(_order[_position] * width, width);
            var destination = tokens.AsSpan(row * width, width);
            for (int t = 0; t < width; t++) destination[t] = sequence[t];

            _position++;
            if (_position == _count) NextBlock();
        }

        return new TokenBatch(tokens, Options.BatchSize, Options.SequenceLength);
    }

    public void Dispose() => _packer.Dispose();

    // Moving on as soon as a block is used up keeps the cursor inside a block that has sequences
    // left, so a cursor never points past the end of an epoch.
    private void NextBlock()
    {
        _blockNumber++;
        FillBlock();
        if (_count > 0) return;

        _packer.Dispose();
        _packer = OpenPacker(null);
        _epoch++;
        _blockNumber = 0;
        FillBlock();
        if (_count == 0) throw TooShort();
    }

    private void FillBlock()
    {
        _position = 0;
        _count = 0;
        if (_packer.Position is not { } start) return;

        _blockStart = start;
        int width = Options.SequenceLength + 1;
        while (_count < Options.ShuffleBlock && _packer.TryNext(_block.AsSpan(_count * width, width)))
        {
            _count++;
        }

        var order = _order.AsSpan(0, _count);
        for (int i = 0; i < order.Length; i++) order[i] = i;
        SplitMix64.For(Options.Seed, _epoch, _blockNumber).Shuffle(order);
    }

    private SequencePacker OpenPacker((int, int)? start)
    {
        var training = new DocumentReader(_spec).Where(d => !_holdout.IsHeldOut(d.Index));
        return new SequencePacker(training, _tokenizer, Options.SequenceLength, start);
    }

    private CorpusException TooShort() => new(
        CorpusValidator.FilesOf(_spec),
        $"distribution '{_spec.Name}' has too little training text for one sequence of "
        + $"{Options.SequenceLength + 1} {_tokenizer.Name} tokens");
}
