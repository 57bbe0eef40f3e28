using System.CommandLine;
using MaskBit.Distributed;
using MaskBit.Pipeline;
using MaskBit.Training;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit train-generator</c>: Stage II training (the original's <c>train_maskbit.py</c>) on the bit tokens of a
/// frozen tokenizer, into a run folder with a live progress bar, sample grids, resumable checkpoints and, at the end,
/// a model folder.
/// </summary>
public static class TrainGeneratorCommand
{
    public static Command Create()
    {
        var common = new TrainingOptions("configs/presets/fmnist_generator.yaml");
        var tokenizer = new Option<string?>("--tokenizer") { Description = "The frozen tokenizer's weights (a checkpoint file or a model folder's tokenizer.safetensors); default: experiment.vqgan_checkpoint" };
        return common.Command("train-generator", "Train LFQ-BERT (Stage II) on the bit tokens of a frozen tokenizer; resumes from the run folder's newest checkpoint.",
            (r, config, options) =>
            {
                var tokenizerPath = r.GetValue(tokenizer) ?? config.Experiment?.VqganCheckpoint
                    ?? throw new ArgumentException("no tokenizer: pass --tokenizer or set experiment.vqgan_checkpoint");
                var run = GeneratorTrainer.Run(config, options, tokenizerPath);
                if (ProcessGroup.World.IsMain && RunExport.Write(config, tokenizerPath, run, options.Device) is { } exported) options.OnLog?.Invoke(exported);
            }, tokenizer);
    }
}
