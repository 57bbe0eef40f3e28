using MaskBit.Distributed;

namespace MaskBit.Evaluation;

/// <summary>
/// The original evaluators' single-split Inception Score: p = softmax(logits_unbiased) per image (float64); running
/// float64 sums P = sum_i p_i and K = sum_i p_i log(p_i + 1e-16) over classes; IS = exp(sum_c (K_c - P_c log(P_c / N + 1e-16)) / N).
/// (The ADM suite instead averages 10 splits of 5,000; with 50 images per class both see every class equally often.)
/// Sums of disjoint sets add exactly, so shards merge by <see cref="Add(InceptionScore)"/>.
/// </summary>
public sealed class InceptionScore : IDisposable
{
    const double Eps = 1e-16;

    public Tensor ProbSum { get; } // [classes] float64, CPU
    public Tensor KlSum { get; }   // [classes] float64, CPU
    public long Count { get; private set; }

    public InceptionScore(long classes = 1008) : this(zeros(classes, float64), zeros(classes, float64), 0) { }

    public InceptionScore(Tensor probSum, Tensor klSum, long count)
    {
        if (probSum.ndim != 1 || !probSum.shape.SequenceEqual(klSum.shape))
            throw new ArgumentException($"Inception Score sums of shapes [{string.Join(", ", probSum.shape)}] and [{string.Join(", ", klSum.shape)}] do not fit together");
        ProbSum = probSum.to(float64).cpu();
        KlSum = klSum.to(float64).cpu();
        Count = count;
    }

    public long Classes => ProbSum.shape[0];

    /// <summary>Adds the logits [B, classes] of a batch (the extractor's <c>logits_unbiased</c>, float64).</summary>
    public void Add(Tensor logits)
    {
        if (logits.ndim != 2 || logits.shape[1] != Classes)
            throw new ArgumentException($"expected logits [B, {Classes}], got [{string.Join(", ", logits.shape)}]");
        using var scope = NewDisposeScope();
        var p = F.softmax(logits.detach().cpu(), -1);
        ProbSum.add_(p.sum(0, type: float64), One);
        KlSum.add_((p * p.add(Const(Eps), One).log()).sum(0, type: float64), One);
        Count += logits.shape[0];
    }

    public void Add(InceptionScore other)
    {
        if (other.Classes != Classes) throw new ArgumentException($"cannot merge Inception Score sums over {other.Classes} classes into {Classes}");
        ProbSum.add_(other.ProbSum, One);
        KlSum.add_(other.KlSum, One);
        Count += other.Count;
    }

    /// <summary>Every process's sums, summed (each process then holds the whole set's).</summary>
    public void AllReduce(ProcessGroup group)
    {
        group.AllReduceSum(ProbSum);
        group.AllReduceSum(KlSum);
        Count = group.Sum(Count);
    }

    public double Result()
    {
        if (Count < 1) throw new InvalidOperationException("Inception Score of no images");
        using var scope = NewDisposeScope();
        using var n = Count.ToScalar();
        var excess = ProbSum * ProbSum.div(n).add(Const(Eps), One).log();
        return Math.Exp((KlSum - excess).sum().item<double>() / Count);
    }

    public void Dispose()
    {
        ProbSum.Dispose();
        KlSum.Dispose();
    }
}
