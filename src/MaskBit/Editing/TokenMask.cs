namespace MaskBit.Editing;

/// <summary>
/// Which tokens of an h x w grid an edit touches (row-major), the helper every editing operation shares. Built from a
/// pixel mask (a token is covered when any pixel of its f x f patch is set), a box, a random share or the whole grid;
/// widened with <see cref="Dilate"/>. Immutable.
/// </summary>
public sealed class TokenMask
{
    readonly bool[] _covered;

    public int Height { get; }
    public int Width { get; }
    /// <summary>Number of covered tokens.</summary>
    public int Count { get; }
    /// <summary>Share of the grid covered, in [0, 1].</summary>
    public double Coverage => (double)Count / (Height * Width);
    public bool IsEmpty => Count == 0;
    public bool IsFull => Count == Height * Width;
    public bool this[int row, int col] => _covered[row * Width + col];

    /// <param name="covered">Height * Width flags, row-major.</param>
    public TokenMask(int height, int width, IEnumerable<bool> covered)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"a token mask needs a grid of at least 1x1, got {height}x{width}");
        _covered = covered.ToArray();
        if (_covered.Length != height * width)
            throw new ArgumentException($"a {height}x{width} token mask needs {height * width} flags, got {_covered.Length}");
        Height = height;
        Width = width;
        Count = _covered.Count(c => c);
    }

    /// <summary>Every token of an h x w grid.</summary>
    public static TokenMask Full(int height, int width) => new(height, width, Enumerable.Repeat(true, height * width));

    /// <summary>
    /// Token coverage of a pixel mask [H, W] or [C, H, W] (channel mean), values &gt;= 0.5 set; H and W must be
    /// multiples of <paramref name="patch"/> (the tokenizer's f). <paramref name="source"/> names the mask in errors.
    /// </summary>
    public static TokenMask FromPixels(Tensor mask, int patch, string source = "mask")
    {
        using var scope = NewDisposeScope();
        var m = mask.detach().cpu().to(float32);
        if (m.ndim == 3) m = m.mean([0]);
        if (m.ndim != 2) throw new ArgumentException($"{source}: expected a pixel mask [H, W] or [C, H, W], got [{string.Join(", ", mask.shape)}]");
        long h = m.shape[0], w = m.shape[1];
        if (h % patch != 0 || w % patch != 0)
            throw new ArgumentException($"{source}: a {w}x{h} mask is not a whole number of {patch}x{patch} token patches");
        var covered = m.ge(Const(0.5)).to(float32).view(h / patch, patch, w / patch, patch).amax([1, 3]).gt(Const(0));   // [h/f, w/f]
        return new TokenMask((int)(h / patch), (int)(w / patch), covered.flatten().data<bool>().ToArray());
    }

    /// <summary>
    /// <paramref name="count"/> tokens drawn at random (seeded) from <paramref name="within"/> (default: the whole
    /// h x w grid) — the "random share" of a class edit.
    /// </summary>
    public static TokenMask Random(int height, int width, int count, ulong seed, TokenMask? within = null)
    {
        within ??= Full(height, width);
        if (within.Height != height || within.Width != width)
            throw new ArgumentException($"a {within.Height}x{within.Width} region does not fit a {height}x{width} token grid");
        if (count < 0 || count > within.Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"cannot draw {count} of the {within.Count} tokens of the region");
        var candidates = Enumerable.Range(0, height * width).Where(i => within._covered[i]).ToArray();
        using var rng = new torch.Generator(seed);
        using var order = torch.randperm(candidates.Length, generator: rng);
        var covered = new bool[height * width];
        foreach (var k in order.data<long>().Take(count)) covered[candidates[k]] = true;
        return new TokenMask(height, width, covered);
    }

    /// <summary>The mask grown by <paramref name="tokens"/> tokens in every direction (a square neighbourhood), clipped to the grid.</summary>
    public TokenMask Dilate(int tokens)
    {
        if (tokens < 0) throw new ArgumentOutOfRangeException(nameof(tokens), $"dilation must be >= 0 tokens, got {tokens}");
        var covered = new bool[Height * Width];
        for (int r = 0; r < Height; r++)
        for (int c = 0; c < Width; c++)
        {
            if (!this[r, c]) continue;
            for (int y = Math.Max(0, r - tokens); y <= Math.Min(Height - 1, r + tokens); y++)
            for (int x = Math.Max(0, c - tokens); x <= Math.Min(Width - 1, c + tokens); x++)
                covered[y * Width + x] = true;
        }
        return new TokenMask(Height, Width, covered);
    }

    /// <summary>bool [h*w] on the CPU, row-major.</summary>
    public Tensor ToTensor() => torch.tensor(_covered);

    /// <summary>The mask as a picture [3, h*f, w*f] float32: 1 (white) on covered tokens, 0 elsewhere.</summary>
    public Tensor ToImage(int patch)
    {
        using var scope = NewDisposeScope();
        var grid = ToTensor().to(float32).view(Height, 1, Width, 1).expand(Height, patch, Width, patch);
        return grid.reshape(1, Height * patch, Width * patch).expand(3, -1, -1).contiguous().MoveToOuterDisposeScope();
    }
}
