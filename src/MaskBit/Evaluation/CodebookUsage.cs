using MaskBit.Distributed;

namespace MaskBit.Evaluation;

/// <summary>
/// How much of a codebook the tokens use (fidelity 7.2): <see cref="Usage"/> = |distinct indices seen| / entries,
/// <see cref="Entropy"/> = -sum p log2(p + 1e-8) over the index frequencies (bits).
/// </summary>
public sealed class CodebookUsage
{
    readonly Tensor _counts; // [entries] float64, CPU

    /// <param name="numEntries">2^token_bits for LFQ, 1024 for MaskGIT/Taming VQ.</param>
    public CodebookUsage(int numEntries)
    {
        if (numEntries <= 0) throw new ArgumentException($"codebook must have entries, got {numEntries}");
        _counts = torch.zeros(numEntries, float64);
    }

    public int NumEntries => (int)_counts.shape[0];

    /// <summary>Counts the indices (any shape, integer dtype, each in [0, entries)).</summary>
    public void Update(Tensor indices)
    {
        using var scope = torch.NewDisposeScope();
        var flat = indices.flatten().cpu().to(int64);
        if (flat.numel() == 0) return;
        long min = flat.min().item<long>(), max = flat.max().item<long>();
        if (min < 0 || max >= NumEntries)
            throw new ArgumentException($"codebook index out of range [0, {NumEntries}): got values in [{min}, {max}]");
        _counts.add_(torch.bincount(flat, minlength: NumEntries).to(float64), One);
    }

    /// <summary>Every process's counts, summed.</summary>
    public void AllReduce(ProcessGroup group) => group.AllReduceSum(_counts);

    public double Usage => _counts.count_nonzero().item<long>() / (double)NumEntries;

    public double Entropy
    {
        get
        {
            using var scope = torch.NewDisposeScope();
            var total = _counts.sum().item<double>();
            if (total == 0) throw new InvalidOperationException("codebook entropy of no indices");
            using var totalScalar = total.ToScalar();
            var p = _counts.div(totalScalar);
            return (-torch.log2(p.add(Const(1e-8), One)) * p).sum().item<double>();
        }
    }
}
