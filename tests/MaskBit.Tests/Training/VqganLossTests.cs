using MaskBit.Config;
using MaskBit.Tokenizer;
using MaskBit.Training;
using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>The tokenizer's loss terms beyond the golden cases (which all train with a fixed GAN weight).</summary>
[Collection(GlobalRngCollection.Name)]
public class VqganLossTests
{
    [Fact]
    public void AdoptWeightScalesTheGanLossByTheRatioOfGradientNormsAtTheLastLayer()
    {
        // losses.discriminator_gradient_penalty: adopt_weight is VQGAN's adaptive weight, not a penalty (fidelity Q16):
        // d_weight = discriminator_weight * clamp(|d nll / d last| / (|d g / d last| + 1e-4), 0, 1e4).
        manual_seed(0);
        var losses = new LossesConfig
        {
            PerceptualWeight = 0, ReconstructionLoss = "l1", QuantizerWeight = 0, DiscriminatorStart = 0,
            DiscriminatorWeight = 0.5, DiscriminatorGradientPenalty = "adopt_weight",
        };
        using var loss = new VqganLoss(new DiscriminatorConfig { HiddenChannels = 32, NumStages = 2 }, losses);
        var last = new Parameter(randn(3, 4, 1, 1));         // the decoder's conv_out weight, 1x1
        using var features = randn(2, 4, 32, 32);
        using var x = rand(2, 3, 32, 32);
        using var zero = zeros(1);
        var q = new QuantizerResult(zero, zero, zero, zero, zero, zero, zeros(1, dtype: int64));

        var reconstruction = nn.functional.conv2d(features, last); // [2, 3, 32, 32]
        var (total, logs) = loss.ForwardGenerator(x, reconstruction, q, step: 0, last);

        var nll = nn.functional.l1_loss(x, reconstruction);
        var g = GanLosses.GeneratorLoss("hinge", loss.Discriminator.call(reconstruction));
        var nllGrad = torch.autograd.grad([nll], [last], retain_graph: true)[0];
        var gGrad = torch.autograd.grad([g], [last], retain_graph: true)[0];
        double ratio = Math.Clamp(nllGrad.norm().item<float>() / (gGrad.norm().item<float>() + 1e-4), 0, 1e4);
        Assert.NotEqual(1.0, ratio, 2); // else the test could not tell the weight from the fixed one
        Assert.Equal(0.5 * ratio, logs["d_weight"].item<float>(), 4);
        Assert.Equal(nll.item<float>() + 0.5 * ratio * g.item<float>(), total.item<float>(), 4);

        // With "none" the weight is the configured one.
        using var fixedLoss = new VqganLoss(new DiscriminatorConfig { HiddenChannels = 32, NumStages = 2 }, losses with { DiscriminatorGradientPenalty = "none" });
        Assert.Equal(0.5, fixedLoss.ForwardGenerator(x, nn.functional.conv2d(features, last), q, 0, last).logs["d_weight"].item<float>(), 6);
    }
}
