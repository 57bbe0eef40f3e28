using MaskBit.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

public class FidTests
{
    static Tensor Features(long n, long d, long seed, double shift = 0)
    {
        var g = new Generator((ulong)seed);
        // correlated, non-centred features: a random mix of independent columns
        var mix = randn(d, d, float64, generator: g) / Math.Sqrt(d);
        return randn(n, d, float64, generator: g).mm(mix) + shift;
    }

    [Fact]
    public void FidOfASetAgainstItselfIsZero()
    {
        using var scope = NewDisposeScope();
        using var m = new FeatureMoments(64);
        m.Add(Features(300, 64, 1, shift: 3));
        using var s = m.Statistics();
        Assert.True(Math.Abs(Fid.Distance(s, s)) < 1e-6, $"FID(x, x) = {Fid.Distance(s, s)}");
    }

    [Fact]
    public void TraceSqrtmEqualsTheSumOfSquareRootsOfTheProductsEigenvalues()
    {
        using var scope = NewDisposeScope();
        using var a = new FeatureMoments(32);
        using var b = new FeatureMoments(32);
        a.Add(Features(200, 32, 2));
        b.Add(Features(150, 32, 3, shift: 1) * 1.7);
        using var sa = a.Statistics();
        using var sb = b.Statistics();
        // S1 S2 is similar to a PSD matrix: its (complex-typed) eigenvalues are real, >= 0.
        var expected = linalg.eigvals(sa.Sigma.mm(sb.Sigma)).sqrt().real.sum().item<double>();
        Assert.Equal(expected, Fid.TraceSqrtmOfProduct(sa.Sigma, sb.Sigma), 9);
        // and the distance is the textbook formula
        var d = (sa.Mu - sb.Mu).pow(2).sum().item<double>() + sa.Sigma.trace().item<double>() + sb.Sigma.trace().item<double>() - 2 * expected;
        Assert.Equal(d, Fid.Distance(sa, sb), 9);
    }

    [Fact]
    public void MomentsMatchTheUnbiasedCovarianceAndMergeExactly()
    {
        using var scope = NewDisposeScope();
        var f = Features(90, 16, 4, shift: -2);
        using var whole = new FeatureMoments(16);
        whole.Add(f);
        using var s = whole.Statistics();
        Assert.True((s.Mu - f.mean([0L])).abs().max().item<double>() < 1e-12);
        Assert.True((s.Sigma - f.T.cov()).abs().max().item<double>() < 1e-12);
        // shards of any split add to the same sums
        using var p1 = new FeatureMoments(16);
        using var p2 = new FeatureMoments(16);
        p1.Add(f[..37]);
        p2.Add(f[37..]);
        p1.Add(p2);
        Assert.Equal(90, p1.Count);
        Assert.True((p1.Sum - whole.Sum).abs().max().item<double>() < 1e-12);
        Assert.True((p1.SumOuter - whole.SumOuter).abs().max().item<double>() < 1e-11);
    }

    [Fact]
    public void NonFiniteStatisticsUseTheOriginalsFallback()
    {
        using var scope = NewDisposeScope();
        var sigma = eye(3, dtype: float64) * 4;
        sigma[0, 1] = double.NaN;
        using var a = new FidStatistics(zeros(3, float64), sigma);
        using var b = new FidStatistics(ones(3, float64), eye(3, dtype: float64));
        // trace term sum sqrt(diag(S1) diag(S2)) = 3 * 2; ||mu||^2 = 3; traces 12 + 3
        Assert.Equal(3 + 12 + 3 - 2 * 6, Fid.Distance(a, b), 9);
    }

    [Fact]
    public void InceptionScoreIsOneForIdenticalPredictionsAndTheClassCountForOneHotOnes()
    {
        using var scope = NewDisposeScope();
        using var same = new InceptionScore(10);
        same.Add(randn(1, 10, float64).expand(20, 10));
        Assert.Equal(1.0, same.Result(), 9);
        using var peaked = new InceptionScore(10);
        peaked.Add(eye(10, dtype: float64) * 100); // each image sure of a different class
        Assert.Equal(10.0, peaked.Result(), 6);
        // shards merge exactly
        using var half = new InceptionScore(10);
        using var otherHalf = new InceptionScore(10);
        half.Add((eye(10, dtype: float64) * 100)[..5]);
        otherHalf.Add((eye(10, dtype: float64) * 100)[5..]);
        half.Add(otherHalf);
        Assert.Equal(peaked.Result(), half.Result(), 12);
    }
}
