using System.CommandLine;
using MaskBit.Config;
using MaskBit.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit train-tokenizer</c>: Stage I training (the original's <c>train_tokenizer.py</c>) into a run folder, with
/// a live progress bar, <c>log.txt</c>, TensorBoard events, reconstruction strips and resumable checkpoints.
/// </summary>
public static class TrainTokenizerCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "Tokenizer config (e.g. configs/presets/fmnist_tokenizer.yaml)", Required = true };
        var set = new Option<string[]>("--set") { Description = "Config override key=value (dotted, as the original: training.max_train_steps=1000); repeatable" };
        var output = new Option<DirectoryInfo?>("--output", "-o") { Description = "Run folder (default: runs/<experiment.name>); resumed when it holds checkpoints" };
        var perceptual = new Option<FileInfo?>("--perceptual-weights") { Description = "torchvision ResNet-50 weights for losses.perceptual_loss: resnet50, or ResNet18.onnx for resnet18 (default: the NuGet cache)" };
        var stopAt = new Option<long?>("--stop-at") { Description = "Stop (with a checkpoint) after this step, before training.max_train_steps" };
        var device = new Option<string>("--device") { Description = "Torch device: cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };

        var cmd = new Command("train-tokenizer", "Train a VQGAN+ tokenizer (Stage I) with every loss of the original; resumes from the run folder's newest checkpoint.");
        foreach (var o in new Option[] { config, set, output, perceptual, stopAt, device }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var cfg = ConfigLoader.Load(r.GetValue(config)!.FullName, r.GetValue(set) ?? []);
            var name = cfg.Experiment?.Name ?? throw new ConfigException($"{r.GetValue(config)!.Name}: experiment.name is missing");
            var dir = r.GetValue(output)?.FullName ?? Path.Combine("runs", name);
            long max = Math.Min(cfg.Training?.MaxTrainSteps ?? 0, r.GetValue(stopAt) ?? long.MaxValue);
            Progress.Run($"training {name}", max, advance =>
            {
                long last = -1;
                TokenizerTrainer.Run(cfg, new TrainingRunOptions
                {
                    OutputDir = dir,
                    Device = new Device(r.GetValue(device)!),
                    StopAtStep = r.GetValue(stopAt),
                    PerceptualWeights = r.GetValue(perceptual)?.FullName,
                    OnStep = p => { advance(last < 0 ? p.Step : p.Step - last); last = p.Step; },
                    OnLog = line => AnsiConsole.MarkupLine(Markup.Escape(line)),
                });
            });
            Console.WriteLine($"run folder: {Path.GetFullPath(dir)}");
            return 0;
        });
        return cmd;
    }
}
