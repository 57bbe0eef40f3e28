using MaskBit.Networks;
using MaskBit.Training.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

[Collection(GlobalRngCollection.Name)] // the networks and inputs come from the global generator
public class PerceptualLossTests
{
    [Fact]
    public void LossIsDifferentiableWithRespectToTheInputOnly()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        var loss = new PerceptualLoss(new ResNet50(), onLogits: false);
        loss.to(float64); // float64 so a finite difference can check the gradient
        var input = rand(1, 3, 64, 64, float64).requires_grad_(true);
        var target = rand(1, 3, 64, 64, float64);
        var value = loss.call(input, target);
        Assert.Empty(value.shape);
        value.backward();
        Assert.All(loss.parameters(), p => Assert.Null(p.grad));
        var grad = input.grad!;
        Assert.True(grad.abs().sum().item<double>() > 0, "no gradient reached the input");
        // directional derivative along a random direction vs central differences
        var dir = randn_like(input);
        double h = 1e-4;
        using var _ = no_grad();
        var fd = (loss.call(input + h * dir, target).item<double>() - loss.call(input - h * dir, target).item<double>()) / (2 * h);
        var analytic = (grad * dir).sum().item<double>();
        Assert.True(Math.Abs(fd - analytic) <= 1e-5 * Math.Max(1, Math.Abs(analytic)), $"finite difference {fd} vs gradient {analytic}");
    }

    [Fact]
    public void IdenticalImagesHaveZeroLoss()
    {
        using var scope = NewDisposeScope();
        var loss = new PerceptualLoss(new ResNet50());
        var x = rand(2, 3, 40, 40);
        using var _ = no_grad();
        Assert.Equal(0f, loss.call(x, x.clone()).item<float>());
    }

    [Fact]
    public void LpipsAsATrainingLossBackpropagatesTheSameGradientInFloat32AsInFloat64()
    {
        // The lin layers are 1x1 convs to one channel, a shape whose float32 input gradient the CPU kernel can get
        // wrong (ConvWorkaround); float64 takes another kernel, so it is the reference.
        using var scope = NewDisposeScope();
        random.manual_seed(6);
        var lpips = new MaskBit.Networks.Lpips();
        foreach (var p in lpips.parameters()) p.requires_grad = false;
        lpips.eval();
        var x = rand(2, 3, 32, 32);
        var target = rand(2, 3, 32, 32);
        Tensor Grad(ScalarType dtype)
        {
            lpips.to(dtype);
            var input = x.to(dtype).detach().clone().requires_grad_(true);
            lpips.call(input, target.to(dtype)).mean().backward();
            return input.grad!.to(float64);
        }
        var g32 = Grad(float32);
        var g64 = Grad(float64);
        Assert.True(g32.isfinite().all().item<bool>());
        Assert.True(g64.abs().sum().item<double>() > 0);
        Assert.True(g32.allclose(g64, rtol: 1e-3, atol: 1e-7), $"max difference {(g32 - g64).abs().max().item<double>()}");
    }
}
