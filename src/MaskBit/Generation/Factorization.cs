using System.Numerics;

namespace MaskBit.Generation;

/// <summary>
/// Splits a token index of <c>log2(codebook_size)</c> bits into <c>splits</c> groups of <c>bits / splits</c> bits
/// and back (modeling/modules/factorization.py). Split 0 holds the LOW bits. If bits is not divisible by splits
/// the top <c>bits % splits</c> bits are dropped, as in the original.
/// </summary>
public static class Factorization
{
    /// <summary>Bits per split: <c>floor(log2(codebook_size)) / splits</c> (integer division).</summary>
    public static int BitsPerSplit(int codebookSize, int splits)
    {
        if (codebookSize < 2) throw new ArgumentOutOfRangeException(nameof(codebookSize), $"codebook_size must be >= 2, got {codebookSize}");
        if (splits < 1) throw new ArgumentOutOfRangeException(nameof(splits), $"codebook_splits must be >= 1, got {splits}");
        return BitOperations.Log2((uint)codebookSize) / splits;
    }

    /// <summary>tokens: [B, N] int64 -> [B, N, splits] int64, split i = (token >> i*eb) &amp; (2^eb - 1).</summary>
    public static Tensor Split(Tensor tokens, int codebookSize, int splits)
    {
        int eb = BitsPerSplit(codebookSize, splits);
        long bitMask = (1L << eb) - 1;
        using var scope = NewDisposeScope();
        var parts = new Tensor[splits];
        for (int i = 0; i < splits; i++)
            parts[i] = torch.floor_divide(tokens, 1L << (i * eb)).bitwise_and(bitMask);
        return torch.stack(parts, dim: 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// tokens: [B, N, splits] -> [B, N] float32, as the original returns it (it accumulates into a float32 zeros
    /// tensor; exact up to 2^24). Use <see cref="CombineToLong"/> for indices.
    /// </summary>
    public static Tensor Combine(Tensor tokens, int codebookSize, int splits)
    {
        using var scope = NewDisposeScope();
        return CombineToLong(tokens, codebookSize, splits).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>tokens: [B, N, splits] -> [B, N] int64, index = sum_i split_i &lt;&lt; (i*eb).</summary>
    public static Tensor CombineToLong(Tensor tokens, int codebookSize, int splits)
    {
        int eb = BitsPerSplit(codebookSize, splits);
        if (tokens.dim() != 3 || tokens.shape[2] != splits)
            throw new ArgumentException($"split tokens must be [B, N, {splits}], got [{string.Join(", ", tokens.shape)}]");
        using var scope = NewDisposeScope();
        var combined = torch.zeros(tokens.shape[0], tokens.shape[1], ScalarType.Int64, tokens.device);
        for (int i = 0; i < splits; i++)
            combined.add_(tokens.select(2, i).to_type(ScalarType.Int64).mul(Const(1L << (i * eb))), One);
        return combined.MoveToOuterDisposeScope();
    }
}
