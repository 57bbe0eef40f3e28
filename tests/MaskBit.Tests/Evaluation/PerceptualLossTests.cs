using MaskBit.Training.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

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
}
