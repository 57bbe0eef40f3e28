using MaskBit.Distributed;
using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>What a quantizer returns: the straight-through latents and the original's result dict.</summary>
public sealed record QuantizerResult(
    Tensor Quantized,          // [B, C, h, w]: z + (z_q - z).detach()
    Tensor QuantizerLoss,      // commitment (+ codebook) (+ entropy)
    Tensor CommitmentLoss,
    Tensor EntropyLoss,        // entropy_loss_weight * (per_sample_entropy - avg_entropy); 0 in eval
    Tensor PerSampleEntropy,
    Tensor AvgEntropy,
    Tensor MinEncodingIndices, // [B, h, w] int64
    Tensor? CodebookLoss = null);

/// <summary>Base of the lookup-free and the classic vector quantizer.</summary>
public abstract class Quantizer : Module<Tensor, QuantizerResult>
{
    protected Quantizer(string name) : base(name) { }

    /// <summary>The processes whose rows together form the batch the entropy's average probability is taken over
    /// (data-parallel training); one process by default. Not a module field: no state-dict key.</summary>
    public ProcessGroup BatchGroup { get; set; } = ProcessGroup.Single;

    /// <summary>Latent width C (bits for LFQ, embedding dim for VQ).</summary>
    public abstract int TokenSize { get; }
    /// <summary>Number of distinct tokens.</summary>
    public abstract long CodebookSize { get; }

    /// <summary>indices: [...] integer -> [..., C] latent vectors.</summary>
    public abstract Tensor GetCodebookEntry(Tensor indices);
}

/// <summary>Entropy terms shared by both quantizers (the original's <c>quantizer_utils.py</c>).</summary>
public static class QuantizerUtils
{
    /// <summary>log(clamp(x, eps)).</summary>
    public static Tensor ClampLog(Tensor x, double eps = 1e-5) => log(clamp(x, Const(eps)));

    /// <summary>
    /// <c>entropy_loss_fn</c>: affinity [..., K] / temperature -> p = softmax; returns
    /// (per_sample_entropy = -mean_N sum_k p log p, gamma * avg_entropy = -gamma * sum_k avg_p log avg_p).
    /// </summary>
    public static (Tensor perSample, Tensor average) EntropyLoss(Tensor affinity, double temperature, double entropyGamma = 1.0,
        ProcessGroup? group = null)
    {
        var flat = affinity.reshape(-1, affinity.shape[^1]).div(Const(temperature));
        var p = flat.softmax(-1);
        // The average over the global batch: every process's rows (equal counts), summed through autograd.
        using var rows = ((double)flat.shape[0] * (group?.Size ?? 1)).ToScalar();
        var avgP = group is { IsDistributed: true } ? group.Sum(p.sum([0])).div(rows) : p.mean([0]);
        var perSample = -(p * ClampLog(p)).sum(-1).mean();
        var avg = (-avgP * ClampLog(avgP)).sum();
        return (perSample, avg.mul(Const(entropyGamma)));
    }
}
