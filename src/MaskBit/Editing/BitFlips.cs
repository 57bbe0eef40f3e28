using MaskBit.Pipeline;

namespace MaskBit.Editing;

/// <summary>
/// Bit flips: with lookup-free quantization bit c of a token is the sign of latent channel c (index = sum_c [z_c &gt; 0]
/// 2^c, LSB first), so flipping a bit moves the token to a neighbouring corner of the hypercube — the paper's bit tokens
/// carry structured semantics. Deterministic; flipping the same bits twice restores the tokens exactly.
/// </summary>
public static class BitFlips
{
    /// <summary>
    /// tokens [B, h, w] int64 -> tokens XOR (sum of 2^bit over <paramref name="bits"/>) on the tokens
    /// <paramref name="region"/> covers (default: all). Each bit must be in 0..tokenBits-1 and listed once.
    /// </summary>
    public static Tensor Flip(Tensor tokens, IReadOnlyList<int> bits, int tokenBits, TokenMask? region = null)
    {
        if (tokens.ndim != 3) throw new ArgumentException($"expected a token grid [B, h, w], got [{string.Join(", ", tokens.shape)}]");
        if (bits.Count == 0) throw new ArgumentException("no bits to flip");
        foreach (var bit in bits)
            if (bit < 0 || bit >= tokenBits)
                throw new ArgumentException($"bit {bit} is beyond the {tokenBits}-bit tokens (bits 0..{tokenBits - 1})");
        if (bits.Distinct().Count() != bits.Count) throw new ArgumentException($"bits {string.Join(",", bits)}: a bit listed twice would flip back");
        if (region is not null && (region.Height != tokens.shape[1] || region.Width != tokens.shape[2]))
            throw new ArgumentException($"the region's {region.Width}x{region.Height} grid does not fit the {tokens.shape[2]}x{tokens.shape[1]} token grid");
        long pattern = bits.Aggregate(0L, (acc, bit) => acc | (1L << bit));
        using var scope = NewDisposeScope();
        var flipped = tokens.bitwise_xor(pattern);
        if (region is null) return flipped.MoveToOuterDisposeScope();
        var where = region.ToTensor().view(1, region.Height, region.Width).to(tokens.device);  // [1, h, w]
        return torch.where(where, flipped, tokens).MoveToOuterDisposeScope();
    }

    /// <summary>images [B, 3, S, S] -> the images decoded from their tokens with <paramref name="bits"/> flipped inside <paramref name="region"/>.</summary>
    public static EditResult FlipBits(this MaskBitPipeline pipeline, Tensor images, IReadOnlyList<int> bits, TokenMask? region = null)
    {
        EditCore.CheckImages(pipeline, images);
        int g = pipeline.TokenGridSize;
        if (region is not null) EditCore.CheckGrid(pipeline, region);
        using var scope = NewDisposeScope();
        var flipped = Flip(pipeline.Tokenize(images).view(-1, g, g), bits, pipeline.TokenBits, region); // [B, g, g]
        return new EditResult(pipeline.Detokenize(flipped).MoveToOuterDisposeScope(), flipped.MoveToOuterDisposeScope(), region ?? TokenMask.Full(g, g));
    }

    /// <summary>
    /// image [1, 3, S, S] -> one image per token bit: row c of the result flips bit c alone inside
    /// <paramref name="region"/> ([K, 3, S, S] and [K, g, g] for K-bit tokens).
    /// </summary>
    public static EditResult BitSweep(this MaskBitPipeline pipeline, Tensor image, TokenMask? region = null)
    {
        EditCore.CheckImages(pipeline, image, "image", single: true);
        int g = pipeline.TokenGridSize, k = pipeline.TokenBits;
        if (region is not null) EditCore.CheckGrid(pipeline, region);
        using var scope = NewDisposeScope();
        var tokens = pipeline.Tokenize(image).view(1, g, g);
        var flipped = torch.cat(Enumerable.Range(0, k).Select(c => Flip(tokens, [c], k, region)).ToArray(), 0);  // [K, g, g]
        return new EditResult(pipeline.Detokenize(flipped).MoveToOuterDisposeScope(), flipped.MoveToOuterDisposeScope(), region ?? TokenMask.Full(g, g));
    }
}
