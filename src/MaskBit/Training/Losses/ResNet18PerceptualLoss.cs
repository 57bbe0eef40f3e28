using MaskBit.Networks;
using static TorchSharp.torch.nn;

namespace MaskBit.Training.Losses;

/// <summary>
/// <c>losses.perceptual_loss: resnet18</c>, a stand-in for the original's ResNet-50 loss where torchvision's weights
/// are unavailable: both images go through the frozen CNTK ResNet-18 (<see cref="ResNet18Cntk"/>, eval mode) and the
/// loss is the mean-reduced MSE of the 512-d pooled features — the counterpart of the original's MSE on the
/// ResNet-50 logits (<c>perceptual_loss_on_logits: True</c>). With <c>perceptual_loss_on_logits: False</c> the MSE of
/// the last stage's 512x7x7 activations is added, as the original adds layer4 features. Gradients flow into both
/// inputs, never into the network.
/// </summary>
public sealed class ResNet18PerceptualLoss : Module<Tensor, Tensor, Tensor>
{
    readonly bool _onPooled;
#pragma warning disable IDE1006
    readonly ResNet18Cntk model;
#pragma warning restore IDE1006

    /// <param name="model">The loaded network (frozen, eval mode).</param>
    /// <param name="onPooled">MSE on the pooled features only (true), or on the 7x7 stage activations plus the pooled features.</param>
    public ResNet18PerceptualLoss(ResNet18Cntk model, bool onPooled = true) : base(nameof(ResNet18PerceptualLoss))
    {
        _onPooled = onPooled;
        this.model = model;
        RegisterComponents();
        this.Freeze();
        eval();
    }

    /// <summary>Loads the network from <paramref name="modelPath"/> (<c>ResNet18.onnx</c>) or, when null, the NuGet cache.</summary>
    public static ResNet18PerceptualLoss Load(string? modelPath = null, bool onPooled = true, Device? device = null)
    {
        var loss = new ResNet18PerceptualLoss(ResNet18Cntk.Load(modelPath), onPooled);
        if (device is not null) loss.to(device);
        return loss;
    }

    /// <summary>input, target: [B, 3, H, W] images in [0, 1] -> scalar loss (mean over every element).</summary>
    public override Tensor forward(Tensor input, Tensor target)
    {
        using var scope = NewDisposeScope();
        var (si, pi) = model.Features(model.Preprocess(input));
        var (st, pt) = model.Features(model.Preprocess(target));
        var loss = F.mse_loss(pi, pt);
        if (!_onPooled) loss = F.mse_loss(si, st).add(loss, One);
        return loss.MoveToOuterDisposeScope();
    }
}
