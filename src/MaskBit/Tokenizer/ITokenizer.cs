namespace MaskBit.Tokenizer;

/// <summary>What every Stage-I tokenizer offers (ConvVQModel, MaskGIT, Taming): images in [0,1] &lt;-&gt; tokens.</summary>
public interface ITokenizer
{
    Quantizer Quantize { get; }
    /// <summary>The tokenizer as a module (state dict, train/eval, device moves).</summary>
    nn.Module Module => (nn.Module)this;
    /// <summary>Downsampling factor f (image side / token grid side), 16 for every official config.</summary>
    int DownsamplingFactor { get; }

    /// <summary>x: [B, 3, H, W] in [0,1] -> quantized latents [B, C, H/f, W/f] and the quantizer's result dict.</summary>
    QuantizerResult Encode(Tensor x);

    /// <summary>z: [B, C, h, w] -> images [B, 3, h*f, w*f], unclamped.</summary>
    Tensor Decode(Tensor z);

    /// <summary>The original's <c>forward</c>: x [B, 3, H, W] -> (reconstruction [B, 3, H, W] unclamped, quantizer result).</summary>
    (Tensor decoded, QuantizerResult result) Reconstruct(Tensor x)
    {
        var r = Encode(x);
        return (Decode(r.Quantized), r);
    }
}

public static class TokenizerExtensions
{
    /// <summary>tokens: [B, N] (N a perfect square, row-major grid) -> images [B, 3, H, W], unclamped (<c>decode_tokens</c>).</summary>
    public static Tensor DecodeTokens(this ITokenizer tokenizer, Tensor tokens)
    {
        long n = tokens.shape[1];
        long side = (long)Math.Round(Math.Sqrt(n));
        if (side * side != n) throw new ArgumentException($"decode_tokens needs a square token grid, got {n} tokens");
        return tokenizer.DecodeTokenGrid(tokens.view(tokens.shape[0], side, side));
    }

    /// <summary>tokens: [B, h, w] (any h, w: the decoder is convolutional) -> images [B, 3, h*f, w*f], unclamped.</summary>
    public static Tensor DecodeTokenGrid(this ITokenizer tokenizer, Tensor tokens)
    {
        if (tokens.ndim != 3) throw new ArgumentException($"expected a token grid [B, h, w], got [{string.Join(", ", tokens.shape)}]");
        var z = tokenizer.Quantize.GetCodebookEntry(tokens).reshape(tokens.shape[0], tokens.shape[1], tokens.shape[2], -1).permute(0, 3, 1, 2);
        return tokenizer.Decode(z);                                                        // z [B, C, h, w]
    }

    /// <summary>x: [B, 3, H, W] -> token indices [B, h*w] (int64, row-major).</summary>
    public static Tensor Tokenize(this ITokenizer tokenizer, Tensor x)
    {
        var idx = tokenizer.Encode(x).MinEncodingIndices;
        return idx.reshape(idx.shape[0], -1);
    }
}
