using MaskBit.Distributed;

namespace MaskBit.Evaluation;

/// <summary>
/// Mean [D] and covariance [D, D] (float64, CPU) of Inception pool features: one side of an FID. Stored as
/// pytorch-fid / the ADM suite store them, as the <c>mu</c> and <c>sigma</c> arrays of an <c>.npz</c> file.
/// </summary>
public sealed record FidStatistics(Tensor Mu, Tensor Sigma) : IDisposable
{
    public long Dim => Mu.shape[0];

    /// <summary>Reads <c>mu</c> and <c>sigma</c> of an <c>.npz</c> (other arrays, e.g. the ADM batch's, are ignored).</summary>
    public static FidStatistics Load(string path)
    {
        var arrays = Npz.Read(path);
        foreach (var key in new[] { "mu", "sigma" })
            if (!arrays.ContainsKey(key))
                throw new InvalidDataException($"{path}: no '{key}' array (an FID statistics file holds 'mu' [2048] and 'sigma' [2048, 2048]; found {string.Join(", ", arrays.Keys)})");
        var (mu, sigma) = (arrays["mu"].to(float64), arrays["sigma"].to(float64));
        foreach (var t in arrays.Values) t.Dispose();
        if (mu.ndim != 1 || sigma.ndim != 2 || sigma.shape[0] != mu.shape[0] || sigma.shape[1] != mu.shape[0])
            throw new InvalidDataException($"{path}: expected mu [D] and sigma [D, D], got mu [{string.Join(", ", mu.shape)}] and sigma [{string.Join(", ", sigma.shape)}]");
        return new FidStatistics(mu, sigma);
    }

    /// <summary>Writes <c>mu</c>, <c>sigma</c> (float64) atomically in NumPy's <c>.npz</c> layout.</summary>
    public void Save(string path) => Npz.Write(path, [new("mu", Mu), new("sigma", Sigma)]);

    public void Dispose()
    {
        Mu.Dispose();
        Sigma.Dispose();
    }
}

/// <summary>
/// Running float64 sums of features (the original evaluator's <c>total</c> and <c>sigma</c> accumulators): count N,
/// sum f [D], sum f f^T [D, D]. Sums of disjoint sets add exactly, so shards merge by <see cref="Add(FeatureMoments)"/>.
/// </summary>
public sealed class FeatureMoments : IDisposable
{
    public Tensor Sum { get; }       // [D] float64, CPU
    public Tensor SumOuter { get; }  // [D, D] float64, CPU
    public long Count { get; private set; }

    public FeatureMoments(long dim) : this(zeros(dim, float64), zeros(dim, dim, float64), 0) { }

    /// <summary>Restores saved sums (e.g. a shard's partial state).</summary>
    public FeatureMoments(Tensor sum, Tensor sumOuter, long count)
    {
        if (sum.ndim != 1 || !sumOuter.shape.SequenceEqual([sum.shape[0], sum.shape[0]]))
            throw new ArgumentException($"feature sums of shapes [{string.Join(", ", sum.shape)}] and [{string.Join(", ", sumOuter.shape)}] do not fit together");
        Sum = sum.to(float64).cpu();
        SumOuter = sumOuter.to(float64).cpu();
        Count = count;
    }

    public long Dim => Sum.shape[0];

    /// <summary>Every process's sums, summed (each process then holds the whole set's).</summary>
    public void AllReduce(ProcessGroup group)
    {
        group.AllReduceSum(Sum);
        group.AllReduceSum(SumOuter);
        Count = group.Sum(Count);
    }

    /// <summary>Adds a batch of features [B, D] (converted to float64).</summary>
    public void Add(Tensor features)
    {
        if (features.ndim != 2 || features.shape[1] != Dim)
            throw new ArgumentException($"expected features [B, {Dim}], got [{string.Join(", ", features.shape)}]");
        using var scope = NewDisposeScope();
        var f = features.detach().to(float64).cpu();
        Sum.add_(f.sum(dim: 0), One); // not sum(0): a literal 0 binds to sum(ScalarType? type)
        SumOuter.add_(f.T.mm(f), One);
        Count += features.shape[0];
    }

    /// <summary>Adds another set's sums (exact: float64 additions of disjoint partial sums).</summary>
    public void Add(FeatureMoments other)
    {
        if (other.Dim != Dim) throw new ArgumentException($"cannot merge feature sums of dimension {other.Dim} into {Dim}");
        Sum.add_(other.Sum, One);
        SumOuter.add_(other.SumOuter, One);
        Count += other.Count;
    }

    /// <summary>
    /// Mean and the original's <c>get_covariance</c>: (sum f f^T - (sum f)(sum f)^T / N) / (N - 1), the unbiased
    /// covariance that <c>np.cov(rowvar=False)</c> gives.
    /// </summary>
    public FidStatistics Statistics()
    {
        if (Count < 2) throw new InvalidOperationException($"FID statistics need at least 2 images, got {Count}");
        using var scope = NewDisposeScope();
        using var n = Count.ToScalar();
        using var nMinus1 = (Count - 1).ToScalar();
        var mu = Sum.div(n);
        var sigma = (SumOuter - outer(Sum, Sum).div(n)).div(nMinus1);
        return new FidStatistics(mu.MoveToOuterDisposeScope(), sigma.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        Sum.Dispose();
        SumOuter.Dispose();
    }
}

/// <summary>The Fréchet distance between two Gaussians, as the original's evaluators compute it (fidelity 7.2).</summary>
public static class Fid
{
    /// <summary>
    /// ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2)), in float64. When the trace term is not finite the
    /// original's fallback sum_i sqrt(S1_ii S2_ii) replaces it (spelled with its eps factors, which cancel).
    /// </summary>
    public static double Distance(FidStatistics a, FidStatistics b)
    {
        if (a.Dim != b.Dim) throw new ArgumentException($"FID statistics of different dimensions: {a.Dim} and {b.Dim}");
        using var scope = NewDisposeScope();
        var (mu1, s1) = (a.Mu.to(float64).cpu(), a.Sigma.to(float64).cpu());
        var (mu2, s2) = (b.Mu.to(float64).cpu(), b.Sigma.to(float64).cpu());
        var diff = mu1 - mu2;
        double trCovMean = TraceSqrtmOfProduct(s1, s2);
        if (!double.IsFinite(trCovMean))
        {
            const double eps = 1e-6;
            trCovMean = (s1.diag().mul(Const(eps)) * s2.diag().mul(Const(eps))).div(Const(eps * eps)).sqrt().sum().item<double>();
        }
        return diff.dot(diff).item<double>() + s1.trace().item<double>() + s2.trace().item<double>() - 2 * trCovMean;
    }

    /// <summary>The Fréchet distance between the Gaussians of two sets of features (their means and covariances).</summary>
    public static double Distance(FeatureMoments a, FeatureMoments b)
    {
        using var sa = a.Statistics();
        using var sb = b.Statistics();
        return Distance(sa, sb);
    }

    /// <summary>
    /// tr(sqrtm(S1 S2)) for symmetric positive semi-definite S1, S2 [D, D] (float64), without a general sqrtm, which
    /// TorchSharp lacks. With R = S1^(1/2) (from eigh), S1 S2 = R (R S2) and M = (R S2) R = R S2 R have the same
    /// eigenvalues (AB and BA always do); M is symmetric PSD, so they are real and >= 0, and the principal square root
    /// of S1 S2 that <c>scipy.linalg.sqrtm</c> returns has eigenvalues sqrt(lambda_i): its trace is sum_i sqrt(lambda_i(M)).
    /// Rounding can leave tiny negative eigenvalues (of S1 or M); they are clamped to 0, which equals the original's
    /// "take the real part" of sqrtm's slightly complex result. Returns NaN when the decomposition fails.
    /// </summary>
    public static double TraceSqrtmOfProduct(Tensor s1, Tensor s2)
    {
        using var scope = NewDisposeScope();
        try
        {
            var (l1, v1) = linalg.eigh(s1);
            var r = (v1 * l1.clamp_min(Const(0)).sqrt().unsqueeze(0)).mm(v1.T); // S1^(1/2), symmetric
            var m = r.mm(s2).mm(r);
            m = m.add(m.T, One).div(Const(2)); // exactly symmetric for eigvalsh
            return linalg.eigvalsh(m).clamp_min(Const(0)).sqrt().sum().item<double>();
        }
        catch (System.Runtime.InteropServices.ExternalException)
        {
            return double.NaN; // non-finite input: the caller falls back as the original does
        }
    }
}
