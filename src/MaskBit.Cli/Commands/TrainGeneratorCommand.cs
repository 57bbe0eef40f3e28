using System.CommandLine;
using MaskBit.Config;
using MaskBit.Training;
using Spectre.Console;
using static TorchSharp.torch;

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
        var config = new Option<FileInfo>("--config", "-c") { Description = "Generator config (e.g. configs/presets/fmnist_generator.yaml)", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "The frozen tokenizer's weights (a checkpoint file or model folder's tokenizer.safetensors); default: experiment.vqgan_checkpoint" };
        var set = new Option<string[]>("--set") { Description = "Config override key=value (dotted, as the original); repeatable" };
        var output = new Option<DirectoryInfo?>("--output", "-o") { Description = "Run folder (default: runs/<experiment.name>); resumed when it holds checkpoints" };
        var stopAt = new Option<long?>("--stop-at") { Description = "Stop (with a checkpoint) after this step, before training.max_train_steps" };
        var device = new Option<string>("--device") { Description = "Torch device: cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };

        var cmd = new Command("train-generator", "Train LFQ-BERT (Stage II) on the bit tokens of a frozen tokenizer; resumes from the run folder's newest checkpoint.");
        foreach (var o in new Option[] { config, tokenizer, set, output, stopAt, device }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var cfg = ConfigLoader.Load(r.GetValue(config)!.FullName, r.GetValue(set) ?? []);
            var name = cfg.Experiment?.Name ?? throw new ConfigException($"{r.GetValue(config)!.Name}: experiment.name is missing");
            var tokenizerPath = r.GetValue(tokenizer) ?? cfg.Experiment.VqganCheckpoint
                ?? throw new ArgumentException("no tokenizer: pass --tokenizer or set experiment.vqgan_checkpoint");
            var dir = r.GetValue(output)?.FullName ?? Path.Combine("runs", name);
            long max = Math.Min(cfg.Training?.MaxTrainSteps ?? 0, r.GetValue(stopAt) ?? long.MaxValue);
            Progress.Run($"training {name}", max, advance =>
            {
                long last = -1;
                GeneratorTrainer.Run(cfg, new TrainingRunOptions
                {
                    OutputDir = dir,
                    Device = new Device(r.GetValue(device)!),
                    StopAtStep = r.GetValue(stopAt),
                    OnStep = p => { advance(last < 0 ? p.Step : p.Step - last); last = p.Step; },
                    OnLog = line => AnsiConsole.MarkupLine(Markup.Escape(line)),
                }, tokenizerPath);
            });
            Console.WriteLine($"run folder: {Path.GetFullPath(dir)}");
            return 0;
        });
        return cmd;
    }
}
