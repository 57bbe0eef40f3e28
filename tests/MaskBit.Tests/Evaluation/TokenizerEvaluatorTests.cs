using MaskBit.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

public class TokenizerEvaluatorTests
{
    static double H(params double[] p) => -p.Sum(q => q * Math.Log2(q + 1e-8)); // fidelity 7.2: entropy, 1e-8 inside the log

    [Fact]
    public void CodebookUsageAndEntropyOfHandMadeIndices()
    {
        var usage = new CodebookUsage(8);
        usage.Update(torch.tensor(new long[] { 0, 0, 1, 3 }));
        Assert.Equal(3 / 8.0, usage.Usage);
        Assert.Equal(H(0.5, 0.25, 0.25), usage.Entropy, 12);
        usage.Update(torch.tensor(new long[] { 3, 7, 7, 7 }, new long[] { 2, 2 })); // counts 2,1,0,2,0,0,0,3
        Assert.Equal(4 / 8.0, usage.Usage);
        Assert.Equal(H(0.25, 0.125, 0.25, 0.375), usage.Entropy, 12);
    }

    [Fact]
    public void UniformUseOfAllEntriesHasFullUsageAndLog2Entropy()
    {
        var usage = new CodebookUsage(16);
        usage.Update(torch.arange(16).repeat(3).to(int32));
        Assert.Equal(1.0, usage.Usage);
        Assert.Equal(4.0, usage.Entropy, 6);
    }

    [Fact]
    public void OutOfRangeIndicesAreRejected()
    {
        var usage = new CodebookUsage(4);
        Assert.Contains("[0, 4)", Assert.Throws<ArgumentException>(() => usage.Update(torch.tensor(new long[] { 1, 4 }))).Message);
        Assert.Throws<ArgumentException>(() => usage.Update(torch.tensor(new long[] { -1 })));
        Assert.Throws<InvalidOperationException>(() => usage.Entropy);
    }

    [Fact]
    public void AccumulatesPerImageAveragesOverBatches()
    {
        var (real, fake) = ImageMetricsTests.FixtureBatch();
        var metrics = new TokenizerEvaluator(4);
        Assert.Throws<InvalidOperationException>(() => metrics.Result());
        metrics.Update(real[..1], fake[..1], torch.tensor(new long[] { 0, 1 }));
        metrics.Update(real[1..], fake[1..], torch.tensor(new long[] { 1, 1 }));
        var r = metrics.Result();
        Assert.Equal(2, metrics.NumExamples);
        double[] actual = [r.Mae, r.Mse, r.Psnr, r.Ssim], atol = [5e-8, 5e-9, 1e-6, 1e-6];
        for (int m = 0; m < 4; m++)
        {
            double mean = (ImageMetricsTests.Expected[0][m] + ImageMetricsTests.Expected[1][m]) / 2;
            Assert.True(Math.Abs(actual[m] - mean) < atol[m], $"metric {m}: {actual[m]} vs {mean}");
        }
        Assert.Equal(0.5, r.CodebookUsage);
        Assert.Equal(H(0.25, 0.75), r.CodebookEntropy, 12);
    }

    [Fact]
    public void ImagesAreClampedToTheUnitRange()
    {
        var real = torch.rand(2, 3, 8, 8, generator: new Generator(9));
        var clamped = new TokenizerEvaluator(2);
        clamped.Update(real, real + 3, torch.zeros(2, 4, 4, dtype: int64));
        var ones = new TokenizerEvaluator(2);
        ones.Update(real, torch.ones_like(real), torch.zeros(2, 4, 4, dtype: int64));
        Assert.Equal(ones.Result(), clamped.Result());
        Assert.Equal((1 - real).mean().item<float>(), clamped.Result().Mae, 6);
    }
}
