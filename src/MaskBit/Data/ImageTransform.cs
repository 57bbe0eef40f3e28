using MaskBit.Config;
using MaskBit.Imaging;

namespace MaskBit.Data;

/// <summary>
/// The original's <c>ImageNetTransform</c> (fidelity 8.2) on 8-bit images, giving a <see cref="Resolution"/>-square image:
/// <list type="bullet">
/// <item>training with random crop: torchvision <c>RandomResizedCrop(S, scale=(min_scale, 1), ratio=(3/4, 4/3) with
/// aspect-ratio augmentation else (1, 1))</c>, then <c>RandomHorizontalFlip(0.5)</c>;</item>
/// <item>training without random crop, and evaluation: resize the shorter side to S, centre crop
/// (<see cref="Images.EvalCrop"/>).</item>
/// </list>
/// Resampling is Pillow's (<see cref="PilResample"/>). Randomness comes only from the <see cref="Random"/> passed in,
/// so a transform is reproducible from its seed.
/// </summary>
public sealed class ImageTransform
{
    public int Resolution { get; }
    public Interpolation Interpolation { get; }
    /// <summary>Random crop and flip (training); false: the deterministic resize + centre crop.</summary>
    public bool RandomCrop { get; }
    public double MinScale { get; }
    /// <summary>Aspect-ratio range of the random crop: (3/4, 4/3) or (1, 1).</summary>
    public (double Min, double Max) Ratio { get; }

    public ImageTransform(int resolution, Interpolation interpolation, bool randomCrop, double minScale = 0.8, bool aspectRatioAug = true)
    {
        if (resolution < 1) throw new ArgumentException($"dataset.preprocessing.resolution must be >= 1, got {resolution}");
        if (randomCrop && !(minScale > 0 && minScale <= 1))
            throw new ArgumentException($"dataset.preprocessing.min_scale must be in (0, 1], got {minScale}");
        Resolution = resolution;
        Interpolation = interpolation;
        RandomCrop = randomCrop;
        MinScale = minScale;
        Ratio = aspectRatioAug ? (3.0 / 4.0, 4.0 / 3.0) : (1.0, 1.0);
    }

    /// <summary>The transform of the training split (<paramref name="train"/>) or of evaluation, from
    /// <c>dataset.preprocessing</c>. As the original, training without random crop requires <c>min_scale: 1.0</c> and
    /// <c>use_aspect_ratio_aug: False</c>.</summary>
    public static ImageTransform FromConfig(PreprocessingConfig p, bool train)
    {
        var interpolation = Images.ParseInterpolation(p.Interpolation);
        if (train && !p.UseRandomCrop && (p.MinScale != 1.0 || p.UseAspectRatioAug))
            throw new ConfigException($"dataset.preprocessing: use_random_crop False needs min_scale 1.0 and use_aspect_ratio_aug False (as the original), got min_scale {p.MinScale}, use_aspect_ratio_aug {p.UseAspectRatioAug}");
        return new ImageTransform(p.Resolution, interpolation, train && p.UseRandomCrop, p.MinScale, p.UseAspectRatioAug);
    }

    /// <summary>The transformed image, <see cref="Resolution"/> x <see cref="Resolution"/>.</summary>
    public RgbImage Apply(RgbImage image, Random rng)
    {
        if (!RandomCrop) return Images.EvalCrop(image, Resolution, Interpolation);
        var (left, top, width, height) = RandomResizedCropBox(image.Width, image.Height, rng);
        var crop = image.Crop(left, top, width, height).Resize(Resolution, Resolution, Interpolation);
        return rng.NextDouble() < 0.5 ? crop.FlipHorizontal() : crop;
    }

    /// <summary>torchvision's <c>RandomResizedCrop.get_params</c>: up to ten tries of an area fraction in
    /// [min_scale, 1] and a log-uniform aspect ratio; a box that fits is placed uniformly. Else the centre crop of the
    /// whole image clamped to the ratio range.</summary>
    public (int Left, int Top, int Width, int Height) RandomResizedCropBox(int width, int height, Random rng)
    {
        double area = (double)width * height;
        double logMin = Math.Log(Ratio.Min), logMax = Math.Log(Ratio.Max);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (MinScale + (1 - MinScale) * rng.NextDouble());
            double aspect = Math.Exp(logMin + (logMax - logMin) * rng.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = rng.Next(height - h + 1), left = rng.Next(width - w + 1);
                return (left, top, w, h);
            }
        }
        double inRatio = (double)width / height;
        var (cw, ch) = inRatio < Ratio.Min ? (width, (int)Math.Round(width / Ratio.Min, MidpointRounding.ToEven))
            : inRatio > Ratio.Max ? ((int)Math.Round(height * Ratio.Max, MidpointRounding.ToEven), height)
            : (width, height);
        return ((width - cw) / 2, (height - ch) / 2, cw, ch);
    }
}
