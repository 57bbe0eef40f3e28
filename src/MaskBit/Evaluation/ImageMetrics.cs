namespace MaskBit.Evaluation;

/// <summary>
/// Per-image reconstruction metrics of the original's TokenizerEvaluator (fidelity 7.2), data range 1.0.
/// Inputs: real, fake [B, 3, H, W] in [0, 1] (float32 in the original); outputs [B], one value per image.
/// </summary>
public static class ImageMetrics
{
    /// <summary>Mean |fake - real| over C, H, W, in the inputs' dtype (as the original).</summary>
    public static Tensor Mae(Tensor real, Tensor fake)
    {
        Check(real, fake);
        using var diff = fake - real;
        return diff.abs_().mean([1, 2, 3]);
    }

    /// <summary>Mean (fake - real)^2 over C, H, W, in the inputs' dtype (as the original).</summary>
    public static Tensor Mse(Tensor real, Tensor fake)
    {
        Check(real, fake);
        using var diff = fake - real;
        return diff.pow_(Const(2)).mean([1, 2, 3]);
    }

    /// <summary>float64 <c>10 log10(1 / (mse + 1e-10))</c>, mse taken in float64.</summary>
    public static Tensor Psnr(Tensor real, Tensor fake)
    {
        Check(real, fake);
        using var scope = torch.NewDisposeScope();
        var mse = (fake.to(float64) - real.to(float64)).pow_(Const(2)).mean([1, 2, 3]);
        return torch.log10(mse.add(Const(1e-10), One).reciprocal().mul(Const(1.0))).mul(Const(10.0)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ignite-style SSIM: 11x11 Gaussian window (sigma 1.5), both images reflect-padded by 5, one depthwise
    /// convolution over [fake, real, fake^2, real^2, fake*real], C1 = 0.01^2, C2 = 0.03^2; the SSIM map (computed in
    /// the inputs' dtype) is averaged per image in float64.
    /// </summary>
    public static Tensor Ssim(Tensor real, Tensor fake)
    {
        Check(real, fake);
        if (real.shape[2] <= Pad || real.shape[3] <= Pad)
            throw new ArgumentException($"SSIM needs images larger than {Pad}x{Pad} (reflect padding), got {real.shape[2]}x{real.shape[3]}");
        using var scope = torch.NewDisposeScope();
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var f = F.pad(fake, [Pad, Pad, Pad, Pad], PaddingModes.Reflect);
        var r = F.pad(real, [Pad, Pad, Pad, Pad], PaddingModes.Reflect);
        var window = GaussianWindow().to(fake.dtype, fake.device).expand(3, 1, -1, -1);
        // [5B, 3, H, W] -> 5 x [B, 3, H, W]
        var o = F.conv2d(torch.cat([f, r, f.pow(Const(2)), r.pow(Const(2)), f * r], 0), window, groups: 3).chunk(5, 0);
        var muF2 = o[0].pow(Const(2));
        var muR2 = o[1].pow(Const(2));
        var muFR = o[0] * o[1];
        var sigmaF2 = o[2] - muF2;
        var sigmaR2 = o[3] - muR2;
        var sigmaFR = o[4] - muFR;
        var map = (muFR.mul(Const(2)).add(Const(c1), One) * sigmaFR.mul(Const(2)).add(Const(c2), One))
            / (muF2.add(muR2, One).add(Const(c1), One) * sigmaF2.add(sigmaR2, One).add(Const(c2), One));
        return map.to(float64).mean([1, 2, 3]).MoveToOuterDisposeScope();
    }

    const int Pad = 5;

    // [11, 11] float32: outer product of the normalised 1-D Gaussian exp(-0.5 (x / 1.5)^2), x = -5..5,
    // built with the same float32 ops as the original.
    static Tensor GaussianWindow()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.linspace(-Pad, Pad, 2 * Pad + 1, dtype: float32);
        var g = torch.exp(x.div(Const(1.5)).pow(Const(2)).mul(Const(-0.5)));
        g /= g.sum();
        return torch.outer(g, g).MoveToOuterDisposeScope();
    }

    static void Check(Tensor real, Tensor fake)
    {
        if (real.ndim != 4 || real.shape[1] != 3 || !real.shape.SequenceEqual(fake.shape))
            throw new ArgumentException($"expected real and fake images [B, 3, H, W] of one shape, got [{string.Join(", ", real.shape)}] and [{string.Join(", ", fake.shape)}]");
    }
}
