using System.CommandLine;
using MaskBit.Config;
using MaskBit.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace MaskBit.Cli.Options;

/// <summary>What both training commands share: the config and its overrides, the run folder, <c>--stop-at</c>, the
/// device, and running a loop behind a progress bar with its log lines on the console.</summary>
sealed class TrainingOptions(string example)
{
    public readonly ConfigOptions Config = new($"Config YAML (e.g. {example})", required: true);
    public readonly Option<DirectoryInfo?> Output = new("--output", "-o") { Description = "Run folder (default: runs/<experiment.name>); resumed when it holds checkpoints" };
    public readonly Option<long?> StopAt = new("--stop-at") { Description = "Stop (with a checkpoint) after this step, before training.max_train_steps" };
    public readonly Option<string> Device = SharedOptions.Device();

    /// <summary>The command with these options, then <paramref name="extra"/>; its action loads the config and runs
    /// <paramref name="train"/> (see <see cref="Run"/>).</summary>
    public Command Command(string name, string description, Action<ParseResult, ExperimentConfig, TrainingRunOptions> train, params Option[] extra)
    {
        var command = new Command(name, description);
        Config.AddTo(command);
        foreach (var o in new Option[] { Output, StopAt, Device }.Concat(extra)) command.Options.Add(o);
        command.SetAction(r => Run(r, (config, options) => train(r, config, options)));
        return command;
    }

    /// <summary>Loads the config, then runs <paramref name="train"/> with the run options wired to a progress bar.</summary>
    int Run(ParseResult r, Action<ExperimentConfig, TrainingRunOptions> train)
    {
        var cfg = Config.Require(r);
        var name = cfg.Experiment?.Name ?? throw new ConfigException($"{Config.File(r)!.Name}: experiment.name is missing");
        var dir = r.GetValue(Output)?.FullName ?? Path.Combine("runs", name);
        long max = Math.Min(cfg.Training?.MaxTrainSteps ?? 0, r.GetValue(StopAt) ?? long.MaxValue);
        Progress.Run($"training {name}", max, advance =>
        {
            long last = -1; // a resumed run's first report jumps the bar to its step
            train(cfg, new TrainingRunOptions
            {
                OutputDir = dir,
                Device = r.GetDevice(Device),
                StopAtStep = r.GetValue(StopAt),
                OnStep = p => { advance(last < 0 ? p.Step : p.Step - last); last = p.Step; },
                OnLog = line => AnsiConsole.MarkupLine(Markup.Escape(line)),
            });
        });
        if (MaskBit.Distributed.ProcessGroup.World.IsMain) Console.WriteLine($"run folder: {Path.GetFullPath(dir)}");
        return 0;
    }
}
