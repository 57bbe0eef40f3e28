using MaskBit.Imaging;
using MaskBit.Pipeline;

namespace MaskBit.Editing;

/// <summary>
/// Interpolation between two token grids along a Hamming path: the D bits in which they differ are flipped one by one
/// in a fixed order (a permutation drawn from a seed), and the grid is decoded at evenly spaced points of the path.
/// </summary>
public static class TokenInterpolation
{
    /// <summary>
    /// from, to [N] int64 -> [points, N]: point i has the first round(i * D / (points - 1)) differing bits flipped
    /// (point 0 = from, the last = to), the order of the D bits drawn from <paramref name="seed"/>.
    /// </summary>
    public static Tensor HammingPath(Tensor from, Tensor to, int tokenBits, int points, ulong seed)
    {
        if (points < 2) throw new ArgumentOutOfRangeException(nameof(points), $"a path needs at least 2 points (its ends), got {points}");
        if (from.ndim != 1 || !from.shape.SequenceEqual(to.shape))
            throw new ArgumentException($"expected two token vectors [N] of one length, got [{string.Join(", ", from.shape)}] and [{string.Join(", ", to.shape)}]");
        var a = from.cpu().to(ScalarType.Int64).data<long>().ToArray();
        var b = to.cpu().to(ScalarType.Int64).data<long>().ToArray();
        var differing = new List<(int position, int bit)>();                             // position-major, LSB first
        for (int n = 0; n < a.Length; n++)
        for (int c = 0; c < tokenBits; c++)
            if (((a[n] ^ b[n]) >> c & 1) == 1) differing.Add((n, c));
        using var rng = new torch.Generator(seed);
        using var order = torch.randperm(differing.Count, generator: rng);
        var path = order.data<long>().Select(i => differing[(int)i]).ToArray();
        var result = new long[points * a.Length];
        var current = (long[])a.Clone();
        int flipped = 0;
        for (int p = 0; p < points; p++)
        {
            int target = (int)Math.Round((double)p * path.Length / (points - 1), MidpointRounding.AwayFromZero);
            for (; flipped < target; flipped++) current[path[flipped].position] ^= 1L << path[flipped].bit;
            Array.Copy(current, 0, result, p * a.Length, a.Length);
        }
        return torch.tensor(result).view(points, a.Length);
    }

    /// <summary>
    /// Two images [1, 3, S, S] -> <paramref name="points"/> images decoded along the Hamming path between their token
    /// grids (the first and last are the tokenizer's reconstructions of the inputs). The mask marks the tokens that differ.
    /// </summary>
    public static EditResult Interpolate(this MaskBitPipeline pipeline, Tensor from, Tensor to, int points, ulong seed = 42)
    {
        EditCore.CheckImages(pipeline, from, "from", single: true);
        EditCore.CheckImages(pipeline, to, "to", single: true);
        int g = pipeline.TokenGridSize;
        using var scope = NewDisposeScope();
        var a = pipeline.Tokenize(from)[0];                                                 // [g*g]
        var b = pipeline.Tokenize(to)[0];
        var path = HammingPath(a, b, pipeline.TokenBits, points, seed).view(points, g, g);
        var differs = new TokenMask(g, g, a.ne(b).data<bool>().ToArray());
        return new EditResult(pipeline.Detokenize(path).MoveToOuterDisposeScope(), path.MoveToOuterDisposeScope(), differs);
    }
}
