namespace MaskBit.Nn;

public static class Resize
{
    /// <summary>
    /// PyTorch's <c>F.interpolate(x, size, mode="bilinear", antialias=True, align_corners=False)</c>:
    /// [B, C, H, W] -> [B, C, size, size] (a triangle filter widened by the downscale factor). The input of the
    /// perceptual networks (ResNet-50, CNTK ResNet-18).
    /// </summary>
    public static Tensor Antialiased(Tensor x, long size) =>
        F.interpolate(x, [size, size], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
}
