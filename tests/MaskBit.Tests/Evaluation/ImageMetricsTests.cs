using MaskBit.Evaluation;
using MaskBit.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

public class ImageMetricsTests
{
    // Per image (MAE, MSE, PSNR, SSIM) of tests/fixtures/metrics/{real,fake}_{0,1}.png, computed independently in
    // float64 with numpy/scipy by tests/fixtures/metrics/make_fixtures.py.
    internal static readonly double[][] Expected =
    [
        [0.0350571895425, 0.00201274082618, 26.9621212256, 0.88724077972],
        [0.124662309368, 0.0206441539579, 16.8520290865, 0.731361727596],
    ];

    internal static (Tensor real, Tensor fake) FixtureBatch()
    {
        var dir = Path.Combine(Golden.RepoRoot, "tests", "fixtures", "metrics");
        Tensor Stack(string name) => torch.stack([Images.Load(Path.Combine(dir, $"{name}_0.png")), Images.Load(Path.Combine(dir, $"{name}_1.png"))]);
        return (Stack("real"), Stack("fake"));
    }

    [Fact]
    public void MatchesIndependentComputation()
    {
        var (real, fake) = FixtureBatch();
        Tensor[] actual = [ImageMetrics.Mae(real, fake), ImageMetrics.Mse(real, fake), ImageMetrics.Psnr(real, fake), ImageMetrics.Ssim(real, fake)];
        double[] atol = [5e-8, 5e-9, 1e-6, 1e-6];
        for (int m = 0; m < 4; m++)
        for (int i = 0; i < 2; i++)
        {
            double got = actual[m][i].to(float64).item<double>();
            Assert.True(Math.Abs(got - Expected[i][m]) < atol[m], $"metric {m} image {i}: {got} vs {Expected[i][m]}");
        }
    }

    [Fact]
    public void SsimOfAnImageWithItselfIsOne()
    {
        var x = torch.rand(2, 3, 16, 12, generator: new Generator(3));
        var ssim = ImageMetrics.Ssim(x, x.clone());
        Assert.True((ssim - 1).abs().max().item<double>() < 1e-6);
        Assert.Equal(100.0, ImageMetrics.Psnr(x, x)[0].item<double>(), 9); // 10 log10(1 / 1e-10)
    }

    [Fact]
    public void PsnrAndSsimFallAsNoiseGrows()
    {
        var gen = new Generator(5);
        var x = torch.rand(1, 3, 16, 16, generator: gen);
        var noise = torch.randn(1, 3, 16, 16, generator: gen);
        double lastPsnr = double.MaxValue, lastSsim = double.MaxValue;
        foreach (var level in new[] { 0.01, 0.03, 0.1, 0.3 })
        {
            var y = (x + level * noise).clamp(0, 1);
            double psnr = ImageMetrics.Psnr(x, y).item<double>(), ssim = ImageMetrics.Ssim(x, y).item<double>();
            Assert.True(psnr < lastPsnr && ssim < lastSsim, $"noise {level}: PSNR {psnr}, SSIM {ssim}");
            (lastPsnr, lastSsim) = (psnr, ssim);
        }
    }

    [Fact]
    public void ShapeMismatchIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => ImageMetrics.Ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9)));
        Assert.Contains("[1, 3, 8, 9]", e.Message);
        Assert.Throws<ArgumentException>(() => ImageMetrics.Ssim(torch.zeros(1, 3, 5, 8), torch.zeros(1, 3, 5, 8)));
    }
}
