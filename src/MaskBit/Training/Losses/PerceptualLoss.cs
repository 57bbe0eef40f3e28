using MaskBit.Interop;
using MaskBit.Networks;
using static TorchSharp.torch.nn;

namespace MaskBit.Training.Losses;

/// <summary>
/// The original's <c>PerceptualLoss("resnet50")</c> (fidelity 3.3): both images resized to 224 with antialiased bilinear
/// interpolation, normalised with the ImageNet mean/std, run through a frozen ResNet-50 in eval mode (BatchNorm uses
/// running statistics), and compared with a mean-reduced MSE on the 1000 logits (<c>perceptual_loss_on_logits: True</c>,
/// every official config) or on layer4 features plus logits. Keys: <c>mean</c>, <c>std</c> [1, 3, 1, 1], <c>model.*</c>.
/// The network's parameters never get gradients; the loss is differentiable with respect to <c>input</c> (and target).
/// </summary>
public sealed class PerceptualLoss : Module<Tensor, Tensor, Tensor>
{
    public const int Size = 224;

    readonly bool _onLogits;
#pragma warning disable IDE1006 // state-dict keys are the original's attribute names
    readonly Tensor mean, std;
    readonly ResNet50 model;
#pragma warning restore IDE1006

    /// <param name="model">The ResNet-50 (weights already loaded); frozen and put in eval mode here.</param>
    /// <param name="onLogits">MSE on the logits only (true, the configs' default) or on layer4 features + logits.</param>
    public PerceptualLoss(ResNet50 model, bool onLogits = true) : base(nameof(PerceptualLoss))
    {
        _onLogits = onLogits;
        mean = tensor(new[] { 0.485f, 0.456f, 0.406f }).view(1, 3, 1, 1);
        std = tensor(new[] { 0.229f, 0.224f, 0.225f }).view(1, 3, 1, 1);
        this.model = model;
        RegisterComponents();
        this.Freeze();
        eval(); // as the original's create_perception_loss(...).eval()
    }

    /// <summary>Loads torchvision's <c>resnet50-0676ba61.pth</c> (IMAGENET1K_V1) strictly and builds the loss.</summary>
    public static PerceptualLoss Load(string resnetPath, bool onLogits = true, Device? device = null)
    {
        if (!File.Exists(resnetPath))
            throw new FileNotFoundException($"perceptual loss: torchvision ResNet-50 IMAGENET1K_V1 weights ({ResNet50.WeightFileName}) not found: {resnetPath}", resnetPath);
        var net = new ResNet50();
        Checkpoint.LoadInto(net, resnetPath);
        var loss = new PerceptualLoss(net, onLogits);
        if (device is not null) loss.to(device);
        return loss;
    }

    /// <summary>The resized, ImageNet-normalised network input: [B, 3, H, W] in [0, 1] -> [B, 3, 224, 224].</summary>
    public Tensor Preprocess(Tensor x)
    {
        using var resized = Resize.Antialiased(x, Size);
        using var centred = resized - mean;
        return centred / std;
    }

    /// <summary>input, target: [B, 3, H, W] images in [0, 1] -> scalar loss (mean over every element).</summary>
    public override Tensor forward(Tensor input, Tensor target)
    {
        using var scope = NewDisposeScope();
        var (fi, li) = model.Features(Preprocess(input));
        var (ft, lt) = model.Features(Preprocess(target));
        var loss = F.mse_loss(li, lt);
        if (!_onLogits) loss = F.mse_loss(fi, ft).add(loss, One);
        return loss.MoveToOuterDisposeScope();
    }
}
