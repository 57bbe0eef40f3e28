using System.CommandLine;
using MaskBit.Config;
using MaskBit.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>What both training commands share: the config and its overrides, the run folder, <c>--stop-at</c>, the
/// device, and running a loop behind a progress bar with its log lines on the console.</summary>
public sealed class TrainingCommandOptions(string example)
{
    public readonly Option<FileInfo> Config = new("--config", "-c") { Description = $"Config YAML (e.g. {example})", Required = true };
    public readonly Option<string[]> Set = new("--set") { Description = "Config override key=value (dotted, as the original: training.max_train_steps=1000); repeatable" };
    public readonly Option<DirectoryInfo?> Output = new("--output", "-o") { Description = "Run folder (default: runs/<experiment.name>); resumed when it holds checkpoints" };
    public readonly Option<long?> StopAt = new("--stop-at") { Description = "Stop (with a checkpoint) after this step, before training.max_train_steps" };
    public readonly Option<string> Device = new("--device") { Description = "Torch device: cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Config, Set, Output, StopAt, Device }) command.Options.Add(o);
    }

    /// <summary>Loads the config, then runs <paramref name="train"/> with the run options wired to a progress bar.</summary>
    public int Run(ParseResult r, Action<ExperimentConfig, TrainingRunOptions> train)
    {
        var cfg = ConfigLoader.Load(r.GetValue(Config)!.FullName, r.GetValue(Set) ?? []);
        var name = cfg.Experiment?.Name ?? throw new ConfigException($"{r.GetValue(Config)!.Name}: experiment.name is missing");
        var dir = r.GetValue(Output)?.FullName ?? Path.Combine("runs", name);
        long max = Math.Min(cfg.Training?.MaxTrainSteps ?? 0, r.GetValue(StopAt) ?? long.MaxValue);
        Progress.Run($"training {name}", max, advance =>
        {
            long last = -1; // a resumed run's first report jumps the bar to its step
            train(cfg, new TrainingRunOptions
            {
                OutputDir = dir,
                Device = new Device(r.GetValue(Device)!),
                StopAtStep = r.GetValue(StopAt),
                OnStep = p => { advance(last < 0 ? p.Step : p.Step - last); last = p.Step; },
                OnLog = line => AnsiConsole.MarkupLine(Markup.Escape(line)),
            });
        });
        Console.WriteLine($"run folder: {Path.GetFullPath(dir)}");
        return 0;
    }
}
