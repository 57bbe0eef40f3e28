namespace MaskBit.Tokenizer;

/// <summary>
/// Lookup-free quantizer (LFQ, fidelity 2.1): each latent channel becomes one bit, <c>z > 0 -> +1</c>, else -1
/// (exact 0 and -0 give -1). Token index = sum_c [z_c > 0] * 2^c: bit c = channel c, LSB first.
/// No learnable parameters; the persistent buffers <c>bits_to_indices</c> (int32 [T]) and <c>codebook</c>
/// (float32 [2^T, T], row n = bits of n as ±1) are part of the released state dicts.
/// </summary>
public sealed class LookupFreeQuantizer : Quantizer
{
    readonly Tensor bits_to_indices;
    readonly Tensor codebook;
    readonly int _tokenBits;
    readonly double _commitmentCost, _entropyLossWeight, _entropyLossTemperature, _entropyGamma;

    public LookupFreeQuantizer(int tokenBits = 10, double commitmentCost = 0.25, double entropyLossWeight = 0.1,
        double entropyLossTemperature = 0.01, double entropyGamma = 1.0) : base(nameof(LookupFreeQuantizer))
    {
        if (tokenBits < 1 || tokenBits > 30) throw new ArgumentOutOfRangeException(nameof(tokenBits), $"token_size must be 1..30 bits, got {tokenBits}");
        _tokenBits = tokenBits;
        _commitmentCost = commitmentCost;
        _entropyLossWeight = entropyLossWeight;
        _entropyLossTemperature = entropyLossTemperature;
        _entropyGamma = entropyGamma;
        bits_to_indices = BitsToIndices(tokenBits);
        codebook = IndicesToBits(arange(Const(0L), Const(1L << tokenBits), One), bits_to_indices);
        RegisterComponents();
    }

    public override int TokenSize => _tokenBits;
    public override long CodebookSize => 1L << _tokenBits;

    /// <summary>int32 [bits] = 1, 2, 4, ..., 2^(bits-1).</summary>
    public static Tensor BitsToIndices(int bits) => tensor(Enumerable.Range(0, bits).Select(c => 1 << c).ToArray());

    /// <summary>indices [...] -> ±1 float32 [..., bits] (LSB first).</summary>
    public static Tensor IndicesToBits(Tensor indices, Tensor bitsToIndices) =>
        indices.to(int32).unsqueeze(-1).bitwise_and(bitsToIndices).ne(Const(0)).to(float32)
            .mul(Const(2.0f)).sub(Const(1.0f));

    // z: [B, T, h, w] -> Quantized [B, T, h, w], MinEncodingIndices [B, h, w]
    public override QuantizerResult forward(Tensor z)
    {
        z = z.permute(0, 2, 3, 1).contiguous(); // [B, h, w, T]
        var ones = ones_like(z);
        var zq = where(z.gt(Const(0.0)), ones, -ones);
        var indices = ConvertBitsToIndices(zq);
        var commitment = (zq.detach() - z).pow(Const(2)).mean().mul(Const(_commitmentCost));

        var entropy = zeros(Array.Empty<long>(), device: z.device);
        var perSample = zeros(Array.Empty<long>(), device: z.device);
        var avg = zeros(Array.Empty<long>(), device: z.device);
        if (_entropyLossWeight != 0.0 && training)
        {
            // affinity = 2 z·c = ||z||² + ||c||² - ||z - c||² - const: a softmax over it is one over -distance².
            var d = einsum("bhwc,nc->bhwn", z, codebook).mul(Const(-2));
            (perSample, avg) = QuantizerUtils.EntropyLoss(d.mul(Const(-1)), _entropyLossTemperature, _entropyGamma, BatchGroup);
            entropy = (perSample - avg).mul(Const(_entropyLossWeight));
        }
        // Straight-through estimator, computed literally so values match the original to the ulp.
        var quantized = z.add((zq - z).detach(), One).permute(0, 3, 1, 2).contiguous();
        return new QuantizerResult(quantized, commitment.add(entropy, One), commitment, entropy, perSample, avg, indices);
    }

    /// <summary>indices: [...] -> [..., T] in {-1, +1}.</summary>
    public override Tensor GetCodebookEntry(Tensor indices) => IndicesToBits(indices.to(int64), bits_to_indices);

    /// <summary>tokens: [..., T] (sign taken as the bit) -> int64 indices [...].</summary>
    public Tensor ConvertBitsToIndices(Tensor tokens) =>
        tokens.gt(Const(0.0)).to(int32).mul(bits_to_indices).sum(-1, type: int64);
}
