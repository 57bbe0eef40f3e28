using MaskBit.Networks;
using MaskBit.Training.Losses;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using static TorchSharp.torch;

namespace MaskBit.Tests.Networks;

/// <summary>A fact that runs only when the CNTK ResNet-18 is in the NuGet cache (the build restores it), else is skipped saying where it looked.</summary>
public sealed class FactWhenResNet18Attribute : FactAttribute
{
    public FactWhenResNet18Attribute()
    {
        if (ResNet18Cntk.Find() is null) Skip = ResNet18Cntk.MissingMessage;
    }
}

public class ResNet18CntkTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>Three 224x224 RGB images with integer pixel values 0..255 (as decoded files have): noise, smooth
    /// gradients with stripes, and blocks, so every kernel and the padded borders see structure.</summary>
    static Tensor Images255()
    {
        var g = new Generator(7);
        var noise = randint(0, 256, [1, 3, 224, 224], generator: g).to(float32);
        var ramp = linspace(0, 1, 224);
        var yy = ramp.view(224, 1).expand(224, 224);
        var xx = ramp.view(1, 224).expand(224, 224);
        var smooth = stack([yy * 255, xx * 255, (sin(xx * 40) * 0.5 + 0.5) * 255]).unsqueeze(0).floor();
        var blocks = nn.functional.interpolate(randint(0, 256, [1, 3, 7, 7], generator: g).to(float32), [224, 224], mode: InterpolationMode.Nearest);
        return cat([noise, smooth, blocks]);
    }

    static float[] RunOrt(InferenceSession session, float[] data, int[] shape)
    {
        var input = NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor(data, shape));
        using var results = session.Run([input]);
        return results.Single().AsEnumerable<float>().ToArray();
    }

    [FactWhenResNet18]
    public void FeaturesMatchOnnxRuntimeRunningTheExportedGraphs()
    {
        using var ours18 = ResNet18Cntk.Load(); // outside the dispose scope, which would free its weights
        using var scope = NewDisposeScope();
        var model = ResNet18Cntk.Find()!;
        var prepPath = Path.Combine(Path.GetDirectoryName(model)!, "..", "ResNetPrepOnnx", ResNet18Cntk.PreprocessFileName);
        using var prep = new InferenceSession(prepPath);
        using var net = new InferenceSession(model);
        var images = Images255();
        using var _ = no_grad();
        var ours = ours18.Embed(images / 255);                  // [3, 512]
        var oursPrep = ours18.Preprocess(images / 255);         // [3, 3, 224, 224]
        double maxFeature = 0, maxDiff = 0, maxPrepDiff = 0;
        for (int i = 0; i < images.shape[0]; i++)
        {
            // The graphs take batch 1: RGB 0..255 -> (preprocess) BGR minus mean -> (ResNet18) [1, 512, 1, 1].
            var pre = RunOrt(prep, images[i].flatten().data<float>().ToArray(), [1, 3, 224, 224]);
            var feats = RunOrt(net, pre, [1, 3, 224, 224]);
            Assert.Equal(ResNet18Cntk.FeatureDim, feats.Length);
            maxPrepDiff = Math.Max(maxPrepDiff, (oursPrep[i].flatten() - tensor(pre)).abs().max().item<float>());
            maxDiff = Math.Max(maxDiff, (ours[i] - tensor(feats)).abs().max().item<float>());
            maxFeature = Math.Max(maxFeature, feats.Max(Math.Abs));
        }
        Assert.True(maxFeature > 0.1, $"features are all near zero (max {maxFeature}): the comparison would prove nothing");
        Assert.True(maxPrepDiff < 1e-3, $"preprocessing differs from ResNetPreprocess.onnx by up to {maxPrepDiff}");
        Assert.True(maxDiff < 1e-3 * maxFeature, $"features differ from ONNX Runtime by up to {maxDiff} (largest feature {maxFeature})");
        output.WriteLine($"max abs difference to ONNX Runtime: features {maxDiff:E2} (largest {maxFeature:F3}), preprocessing {maxPrepDiff:E2}");
    }

    [FactWhenResNet18]
    public void PerceptualLossGradientMatchesFloat64AndFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var input = rand([2, 3, 32, 32], generator: g);
        var target = rand([2, 3, 32, 32], generator: g);
        using var loss = new ResNet18PerceptualLoss(ResNet18Cntk.Load(), onPooled: false);
        Tensor Grad(Tensor x, Tensor t)
        {
            var leaf = x.detach().requires_grad_(true);
            loss.call(leaf, t).backward();
            return leaf.grad!.detach();
        }
        var grad32 = Grad(input, target);
        Assert.All(loss.parameters(), p => Assert.Null(p.grad));
        loss.to(float64); // float64 convolutions do not go through oneDNN: an independent reference
        var (x64, t64) = (input.to(float64), target.to(float64));
        var grad64 = Grad(x64, t64);
        double norm = grad64.norm().item<double>();
        Assert.True(norm > 0, "no gradient reached the input");
        // Relative L2 error (measured 2.4e-3): where a max-pool window holds near-equal values (the 32 -> 224 upsampling
        // makes many), float32 and float64 can pick different maxima and route a few pixels' gradient elsewhere, so an
        // element-wise bound would be meaningless; a wrong convolution gradient is off by O(1).
        double err = (grad32.to(float64) - grad64).norm().item<double>() / norm;
        Assert.True(err < 1e-2, $"float32 input gradient differs from float64 by {err:E2} (relative L2)");
        // float64 autograd against central differences along a random direction (a small step: ReLU and max-pool kinks)
        var dir = randn([2, 3, 32, 32], float64, generator: g);
        double h = 1e-7;
        using var _ = no_grad();
        var fd = (loss.call(x64 + h * dir, t64).item<double>() - loss.call(x64 - h * dir, t64).item<double>()) / (2 * h);
        var analytic = (grad64 * dir).sum().item<double>();
        Assert.True(Math.Abs(fd - analytic) <= 1e-5 * Math.Max(1, Math.Abs(analytic)), $"finite difference {fd} vs gradient {analytic}");
    }

    [Fact]
    public void IdenticalImagesHaveZeroLossAndWrongInputIsRefused()
    {
        using var scope = NewDisposeScope();
        var loss = new ResNet18PerceptualLoss(new ResNet18Cntk());
        var x = rand(2, 3, 40, 40);
        using var _ = no_grad();
        Assert.Equal(0f, loss.call(x, x.clone()).item<float>());
        Assert.True(loss.call(x, x.flip(3)).item<float>() > 0);
        var e = Assert.Throws<ArgumentException>(() => new ResNet18Cntk().Features(rand(1, 3, 64, 64)));
        Assert.Contains("[1, 3, 64, 64]", e.Message);
    }

    [FactWhenResNet18]
    public void FrechetDistanceOnItsFeaturesIsZeroForASetAndItselfAndGrowsWithAShift()
    {
        using var net = ResNet18Cntk.Load();
        using var scope = NewDisposeScope();
        var g = new Generator(11);
        var images = nn.functional.interpolate(rand([6, 3, 8, 8], generator: g), [32, 32], mode: InterpolationMode.Bilinear);
        double Fd(Tensor fake)
        {
            using var ev = new MaskBit.Evaluation.TokenizerEvaluator(4, resnet18: net);
            ev.Update(images, fake, zeros(6, 4, 4, dtype: int64));
            var result = ev.Result();
            Assert.Contains(result.Entries(), e => e.Key == "FD_ResNet18");
            return result.FdResNet18!.Value;
        }
        double same = Fd(images.clone()), shifted = Fd((images * 0.6 + 0.3).clamp(0, 1));
        // 6 images: a rank-5 covariance, whose square root in float64 leaves ~1e-5 of rounding
        Assert.True(Math.Abs(same) < 1e-3, $"FD_ResNet18 of a set and itself = {same}");
        Assert.True(shifted > 1, $"FD_ResNet18 of a set and its contrast-reduced copy = {shifted}");
    }

    [Fact]
    public void MissingModelFileIsNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ResNet18Cntk.Load("/nonexistent/ResNet18.onnx"));
        Assert.Contains("/nonexistent/ResNet18.onnx", e.Message);
        Assert.Contains(ResNet18Cntk.PackageId.ToLowerInvariant(), ResNet18Cntk.MissingMessage);
    }
}
