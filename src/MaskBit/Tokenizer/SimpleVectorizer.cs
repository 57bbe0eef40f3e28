using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>
/// Classic vector quantizer (fidelity 2.3; the original's <c>SimpleVectorizer</c>): nearest entry of a learned
/// codebook <c>embedding.weight</c> [K, C], optionally with L2-normalised latents and codebook. Used by the
/// VQGAN+ VQ, MaskGIT and Taming tokenizers.
/// </summary>
public sealed class SimpleVectorizer : Quantizer
{
    readonly Embedding embedding;
    readonly double _commitmentCost, _entropyLossWeight, _entropyLossTemperature, _entropyGamma;
    readonly bool _l2;

    public SimpleVectorizer(long codebookSize = 1024, long tokenSize = 256, double commitmentCost = 0.25,
        double entropyLossWeight = 0.0, double entropyLossTemperature = 0.01, double entropyGamma = 1.0,
        bool useL2Normalisation = false) : base(nameof(SimpleVectorizer))
    {
        _commitmentCost = commitmentCost;
        _entropyLossWeight = entropyLossWeight;
        _entropyLossTemperature = entropyLossTemperature;
        _entropyGamma = entropyGamma;
        _l2 = useL2Normalisation;
        embedding = Embedding(codebookSize, tokenSize);
        using (no_grad()) embedding.weight!.uniform_(-1.0 / codebookSize, 1.0 / codebookSize);
        RegisterComponents();
    }

    public override int TokenSize => (int)embedding.weight!.shape[1];
    public override long CodebookSize => embedding.weight!.shape[0];

    Tensor Codebook => _l2 ? F.normalize(embedding.weight!, dim: -1) : embedding.weight!;

    // z: [B, C, h, w] -> Quantized [B, C, h, w], MinEncodingIndices [B, h, w]
    public override QuantizerResult forward(Tensor z)
    {
        z = z.permute(0, 2, 3, 1).contiguous(); // [B, h, w, C]
        if (_l2) z = F.normalize(z, dim: -1);
        var e = Codebook;
        var flat = z.reshape(-1, z.shape[^1]); // [N, C]
        // ||z - e||² = ||z||² + ||e||² - 2 z·e   [N, K]
        var d = flat.pow(Const(2)).sum(1, keepdim: true).add(e.pow(Const(2)).sum(1), One)
            - einsum("bd,dn->bn", flat, e.t()).mul(Const(2));
        var idx = d.argmin(1);
        var zq = GetCodebookEntry(idx).view(z.shape);
        var commitment = (zq.detach() - z).pow(Const(2)).mean().mul(Const(_commitmentCost));
        var codebookLoss = (zq - z.detach()).pow(Const(2)).mean();
        var entropy = zeros(Array.Empty<long>(), device: z.device);
        var perSample = zeros(Array.Empty<long>(), device: z.device);
        var avg = zeros(Array.Empty<long>(), device: z.device);
        if (_entropyLossWeight != 0.0 && training)
        {
            (perSample, avg) = QuantizerUtils.EntropyLoss(d.mul(Const(-1)), _entropyLossTemperature, _entropyGamma, BatchGroup);
            entropy = (perSample - avg).mul(Const(_entropyLossWeight));
        }
        var quantized = z.add((zq - z).detach(), One).permute(0, 3, 1, 2).contiguous();
        return new QuantizerResult(quantized, commitment.add(codebookLoss, One).add(entropy, One), commitment, entropy,
            perSample, avg, idx.view(z.shape[0], z.shape[1], z.shape[2]), codebookLoss);
    }

    /// <summary>indices: [...] -> [..., C] codebook rows (re-normalised when L2 normalisation is on).</summary>
    public override Tensor GetCodebookEntry(Tensor indices)
    {
        var e = Codebook;
        return e.index_select(0, indices.to(int64).flatten()).view([.. indices.shape, e.shape[1]]);
    }
}
