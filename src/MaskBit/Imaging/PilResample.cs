namespace MaskBit.Imaging;

/// <summary>Resampling filters of torchvision's PIL transforms (<c>InterpolationMode</c>).</summary>
public enum Interpolation { Nearest, Bilinear, Bicubic }

/// <summary>
/// Pillow's resize of an 8-bit image (Resample.c / Geometry.c, Pillow 9.x), reproduced so that data fed to the
/// models matches the original's torchvision+PIL pipeline bit for bit. Bilinear/bicubic: separable, horizontal pass
/// first, each output pixel a normalised window of the filter stretched by the downscale factor (antialiasing),
/// weights in 22-bit fixed point and an 8-bit rounded intermediate image. Nearest: the affine nearest scaler.
/// </summary>
static class PilResample
{
    const int PrecisionBits = 32 - 8 - 2;

    public static RgbImage Resize(RgbImage image, int width, int height, Interpolation interpolation)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"resize target must be positive, got {width}x{height}");
        if (interpolation == Interpolation.Nearest) return Nearest(image, width, height);
        var result = image;
        if (width != image.Width) result = Horizontal(result, width, Coefficients(image.Width, width, interpolation));
        if (height != image.Height) result = Vertical(result, height, Coefficients(image.Height, height, interpolation));
        return result == image ? new RgbImage(image.Width, image.Height, (byte[])image.Pixels.Clone()) : result;
    }

    static double Filter(Interpolation f, double x)
    {
        x = Math.Abs(x);
        if (f == Interpolation.Bilinear) return x < 1.0 ? 1.0 - x : 0.0;
        const double a = -0.5; // Pillow's bicubic uses a = -0.5
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>Per output index: first source index, window length, and ksize fixed-point weights.</summary>
    sealed record Coeffs(int[] Start, int[] Count, int[] Weights, int KSize);

    // Pillow's precompute_coeffs + normalize_coeffs_8bpc for the whole-image box [0, inSize).
    static Coeffs Coefficients(int inSize, int outSize, Interpolation f)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = (f == Interpolation.Bilinear ? 1.0 : 2.0) * filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var start = new int[outSize];
        var count = new int[outSize];
        var weights = new int[outSize * ksize];
        var w = new double[ksize];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);       // C casts truncate toward zero
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double sum = 0;
            for (int x = 0; x < xmax; x++) sum += w[x] = Filter(f, (x + xmin - center + 0.5) / filterScale);
            for (int x = 0; x < xmax; x++)
            {
                double k = sum != 0.0 ? w[x] / sum : w[x];
                weights[o * ksize + x] = (int)(k < 0 ? -0.5 + k * (1 << PrecisionBits) : 0.5 + k * (1 << PrecisionBits));
            }
            start[o] = xmin;
            count[o] = xmax;
        }
        return new Coeffs(start, count, weights, ksize);
    }

    static byte Clip8(int v) => v >= (1 << PrecisionBits << 8) ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PrecisionBits);

    static RgbImage Horizontal(RgbImage src, int width, Coeffs c)
    {
        var dst = new byte[src.Height * width * 3];
        for (int y = 0; y < src.Height; y++)
        for (int o = 0; o < width; o++)
        for (int ch = 0; ch < 3; ch++)
        {
            int ss = 1 << (PrecisionBits - 1);
            for (int x = 0; x < c.Count[o]; x++)
                ss += src.Pixels[(y * src.Width + c.Start[o] + x) * 3 + ch] * c.Weights[o * c.KSize + x];
            dst[(y * width + o) * 3 + ch] = Clip8(ss);
        }
        return new RgbImage(width, src.Height, dst);
    }

    static RgbImage Vertical(RgbImage src, int height, Coeffs c)
    {
        var dst = new byte[height * src.Width * 3];
        for (int o = 0; o < height; o++)
        for (int x = 0; x < src.Width; x++)
        for (int ch = 0; ch < 3; ch++)
        {
            int ss = 1 << (PrecisionBits - 1);
            for (int y = 0; y < c.Count[o]; y++)
                ss += src.Pixels[((c.Start[o] + y) * src.Width + x) * 3 + ch] * c.Weights[o * c.KSize + y];
            dst[(o * src.Width + x) * 3 + ch] = Clip8(ss);
        }
        return new RgbImage(src.Width, height, dst);
    }

    // Pillow's ImagingScaleAffine: source index = (int) of a running sum that starts at scale/2 and adds scale
    // per output pixel (the accumulated rounding is kept on purpose).
    static RgbImage Nearest(RgbImage src, int width, int height)
    {
        static int[] Table(int inSize, int outSize)
        {
            double step = (double)inSize / outSize, pos = step * 0.5;
            var table = new int[outSize];
            for (int o = 0; o < outSize; o++, pos += step) table[o] = (int)pos;
            return table;
        }
        int[] xs = Table(src.Width, width), ys = Table(src.Height, height);
        var dst = new byte[height * width * 3];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            Array.Copy(src.Pixels, (ys[y] * src.Width + xs[x]) * 3, dst, (y * width + x) * 3, 3);
        return new RgbImage(width, height, dst);
    }
}
