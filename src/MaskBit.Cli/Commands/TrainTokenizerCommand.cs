using System.CommandLine;
using MaskBit.Training;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit train-tokenizer</c>: Stage I training (the original's <c>train_tokenizer.py</c>) into a run folder, with
/// a live progress bar, <c>log.txt</c>, TensorBoard events, reconstruction strips and resumable checkpoints.
/// </summary>
public static class TrainTokenizerCommand
{
    public static Command Create()
    {
        var common = new TrainingOptions("configs/presets/fmnist_tokenizer.yaml");
        var perceptual = new Option<FileInfo?>("--perceptual-weights") { Description = "torchvision ResNet-50 weights for losses.perceptual_loss: resnet50; a folder with vgg16-397923af.pth and vgg_lpips.pth for lpips; ResNet18.onnx for resnet18 (default: the NuGet cache)" };
        return common.Command("train-tokenizer", "Train a VQGAN+ tokenizer (Stage I) with every loss of the original; resumes from the run folder's newest checkpoint.",
            (r, config, options) => TokenizerTrainer.Run(config, options with { PerceptualWeights = r.GetValue(perceptual)?.FullName }), perceptual);
    }
}
