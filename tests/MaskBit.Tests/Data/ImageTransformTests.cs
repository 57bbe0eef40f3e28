using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Imaging;
using static MaskBit.Tests.Data.DataFixtures;

namespace MaskBit.Tests.Data;

/// <summary>The original's training and evaluation transforms (fidelity 8.2).</summary>
public class ImageTransformTests
{
    [Fact]
    public void TrainingTransformGivesTheResolutionAndIsReproducibleFromTheSeed()
    {
        var t = new ImageTransform(8, Interpolation.Bilinear, randomCrop: true, minScale: 0.5);
        var image = RandomImage(23, 17, 0);
        var a = t.Apply(image, new Random(1));
        Assert.Equal((8, 8), (a.Width, a.Height));
        Assert.Equal(a.Pixels, t.Apply(image, new Random(1)).Pixels);
        Assert.NotEqual(a.Pixels, t.Apply(image, new Random(2)).Pixels);
    }

    [Fact]
    public void FlipHappensAboutHalfTheTimeAndMirrors()
    {
        // Square image, scale 1 and ratio 1: the crop is the whole image at its size, so only the flip changes it.
        var image = RandomImage(6, 6, 3);
        var mirrored = image.FlipHorizontal();
        Assert.Equal(image.Pixels[..3], mirrored.Pixels[15..18]);               // row 0: pixel 0 <-> pixel 5
        Assert.Equal(image.Pixels[(6 * 3 * 2 + 3)..(6 * 3 * 2 + 6)], mirrored.Pixels[(6 * 3 * 2 + 12)..(6 * 3 * 2 + 15)]); // row 2: 1 <-> 4
        var t = new ImageTransform(6, Interpolation.Bicubic, randomCrop: true, minScale: 1.0, aspectRatioAug: false);
        int flips = 0;
        for (int seed = 0; seed < 40; seed++)
        {
            var pixels = t.Apply(image, new Random(seed)).Pixels;
            if (pixels.SequenceEqual(mirrored.Pixels)) flips++;
            else Assert.Equal(image.Pixels, pixels);
        }
        Assert.InRange(flips, 8, 32);
    }

    [Fact]
    public void RandomCropBoxesLieInsideWithTheScaleAndRatioAsked()
    {
        var t = new ImageTransform(8, Interpolation.Bilinear, randomCrop: true, minScale: 0.6, aspectRatioAug: true);
        var rng = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            var (left, top, w, h) = t.RandomResizedCropBox(40, 30, rng);
            Assert.True(left >= 0 && top >= 0 && left + w <= 40 && top + h <= 30, $"box {w}x{h} at ({left}, {top})");
            Assert.InRange((double)w * h / (40 * 30), 0.55, 1.0);          // area fraction in [0.6, 1], up to rounding
            Assert.InRange((double)w / h, 3.0 / 4 - 0.1, 4.0 / 3 + 0.1);
        }
        var square = new ImageTransform(8, Interpolation.Bilinear, randomCrop: true, minScale: 0.6, aspectRatioAug: false);
        for (int i = 0; i < 50; i++)
        {
            var (_, _, w, h) = square.RandomResizedCropBox(40, 30, rng);
            Assert.Equal(w, h);
        }
    }

    [Fact]
    public void ImpossibleCropFallsBackToTheCentreClampedToTheRatio()
    {
        var t = new ImageTransform(8, Interpolation.Bilinear, randomCrop: true, minScale: 0.8, aspectRatioAug: true);
        // 2x100: any crop of >= 80 % area at ratio >= 3/4 is wider than 2 -> centre, width 2, height round(2 / 0.75) = 3
        Assert.Equal((0, 48, 2, 3), t.RandomResizedCropBox(2, 100, new Random(0)));
        Assert.Equal((48, 0, 3, 2), t.RandomResizedCropBox(100, 2, new Random(0)));
    }

    [Fact]
    public void EvaluationIsResizeShorterSideAndCentreCrop()
    {
        var p = new PreprocessingConfig { Resolution = 8, Interpolation = "bicubic" };
        var image = RandomImage(21, 13, 4);
        var eval = ImageTransform.FromConfig(p, train: false);
        Assert.False(eval.RandomCrop);
        Assert.Equal(Images.EvalCrop(image, 8, Interpolation.Bicubic).Pixels, eval.Apply(image, new Random(0)).Pixels);
        Assert.True(ImageTransform.FromConfig(p, train: true).RandomCrop);
    }

    [Fact]
    public void TrainingWithoutRandomCropNeedsScaleOneAndNoAspectAugmentationAsTheOriginal()
    {
        var bad = new PreprocessingConfig { UseRandomCrop = false, MinScale = 0.8 };
        var e = Assert.Throws<ConfigException>(() => ImageTransform.FromConfig(bad, train: true));
        Assert.Contains("min_scale 1.0", e.Message);
        var ok = ImageTransform.FromConfig(bad with { MinScale = 1.0, UseAspectRatioAug = false }, train: true);
        Assert.False(ok.RandomCrop);
        Assert.False(ImageTransform.FromConfig(bad, train: false).RandomCrop); // evaluation ignores the training keys
    }
}
