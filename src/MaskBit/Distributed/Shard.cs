namespace MaskBit.Distributed;

/// <summary>Part <see cref="Index"/> of <see cref="Count"/> (0-based) of a job split into contiguous ranges.</summary>
public readonly record struct Shard(int Index, int Count)
{
    public static Shard Whole => new(0, 1);

    /// <summary>"i/n" with 0 &lt;= i &lt; n (else a one-line error naming <paramref name="option"/>).</summary>
    public static Shard Parse(string text, string option = "--shard")
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], out int i) && int.TryParse(parts[1], out int n) && n >= 1 && i >= 0 && i < n) return new(i, n);
        throw new ArgumentException($"{option} must be i/n with 0 <= i < n, got '{text}'");
    }

    /// <summary>This shard's items [start, end) of <paramref name="total"/>.</summary>
    public (long Start, long End) Range(long total) => (total * Index / Count, total * (Index + 1) / Count);

    /// <summary>This shard's items of <paramref name="items"/>.</summary>
    public IReadOnlyList<T> Of<T>(IReadOnlyList<T> items)
    {
        var (start, end) = Range(items.Count);
        return items.Skip((int)start).Take((int)(end - start)).ToList();
    }

    /// <summary>Rank r of N's shard, r/N.</summary>
    public static Shard Of(ProcessGroup group) => new(group.Rank, group.Size);

    public override string ToString() => $"{Index}/{Count}";
}
