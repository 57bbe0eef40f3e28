namespace MaskBit.Evaluation;

/// <summary>Averages over all images seen (CodebookEntropy in bits).</summary>
public sealed record TokenizerMetricsResult(double Mae, double Mse, double Psnr, double Ssim, double CodebookUsage, double CodebookEntropy);

/// <summary>
/// The original's TokenizerEvaluator (spec 7.2) with MAE, MSE, PSNR, SSIM and codebook usage/entropy. rFID, Inception
/// Score and LPIPS are not here: they need pretrained InceptionV3 (pt_inception-2015-12-05) and VGG16 + LPIPS weights,
/// which this port does not have; they can be added as further accumulators once converted weights exist.
/// Sums are kept in float64; each metric is the sum of per-image values / number of images.
/// </summary>
public sealed class TokenizerMetrics(int numCodebookEntries)
{
    readonly CodebookUsage _codebook = new(numCodebookEntries);
    double _mae, _mse, _psnr, _ssim;

    public long NumExamples { get; private set; }

    /// <summary>real, fake: [B, 3, H, W], clamped to [0, 1] here (the original's callers clamp before updating);
    /// indices: the batch's codebook indices, any shape.</summary>
    public void Update(Tensor real, Tensor fake, Tensor indices)
    {
        using var scope = torch.NewDisposeScope();
        real = real.detach().clamp(0, 1);
        fake = fake.detach().clamp(0, 1);
        // MAE/MSE batch sums stay in the inputs' dtype before accumulating, as in the original.
        _mae += ImageMetrics.Mae(real, fake).sum().to(float64).item<double>();
        _mse += ImageMetrics.Mse(real, fake).sum().to(float64).item<double>();
        _psnr += ImageMetrics.Psnr(real, fake).sum().item<double>();
        _ssim += ImageMetrics.Ssim(real, fake).sum().item<double>();
        _codebook.Update(indices);
        NumExamples += real.shape[0];
    }

    public TokenizerMetricsResult Result()
    {
        if (NumExamples < 1) throw new InvalidOperationException("no examples to evaluate");
        double n = NumExamples;
        return new TokenizerMetricsResult(_mae / n, _mse / n, _psnr / n, _ssim / n, _codebook.Usage, _codebook.Entropy);
    }
}
