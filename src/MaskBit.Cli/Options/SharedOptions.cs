using System.CommandLine;
using MaskBit.Config;
using MaskBit.Evaluation;
using static TorchSharp.torch;

namespace MaskBit.Cli.Options;

/// <summary>The single-option flags several commands share, each declared here once: <c>--device</c>,
/// <c>--seed</c> (one type, <c>ulong</c>, everywhere), <c>--json</c>.</summary>
static class SharedOptions
{
    public static Option<string> Device() => new("--device") { Description = "Torch device: cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };

    public static Device GetDevice(this ParseResult r, Option<string> device) => new(r.GetValue(device)!);

    public static Option<ulong> Seed(string description, ulong defaultValue = 0) =>
        new("--seed") { Description = description, DefaultValueFactory = _ => defaultValue };

    public static Option<bool> Json(string what) => new("--json") { Description = $"Also print {what} as one JSON line" };
}

/// <summary><c>--config</c> and <c>--set</c>: a config YAML and dotted overrides of its keys, as the original's CLI
/// takes them (<c>training.max_train_steps=1000</c>; <see cref="App.OriginalStyleOverrides"/> accepts the bare form).</summary>
sealed class ConfigOptions
{
    public readonly Option<FileInfo?> Config;
    public readonly Option<string[]> Set;

    /// <param name="description">What the config is, e.g. "Config YAML (e.g. configs/presets/fmnist_tokenizer.yaml)".</param>
    /// <param name="required">Whether the command needs one.</param>
    /// <param name="setNote">What the overrides do beyond changing the loaded config (e.g. "stored in the folder's config.yaml").</param>
    /// <param name="defaultConfig">The shipped config used when none is given.</param>
    public ConfigOptions(string description, bool required, string? setNote = null, string? defaultConfig = null)
    {
        Config = new("--config", "-c") { Description = description, Required = required };
        if (defaultConfig is not null) Config.DefaultValueFactory = _ => new FileInfo(ShippedConfigs.Path(defaultConfig));
        Set = new("--set") { Description = $"Config override key=value (dotted, as the original's CLI: training.max_train_steps=1000){(setNote is null ? "" : "; " + setNote)}; repeatable" };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(Set);
    }

    /// <summary>Whether <c>--config</c> was given on the command line (not its default).</summary>
    public bool Given(ParseResult r) => r.GetResult(Config) is { Implicit: false };

    public FileInfo? File(ParseResult r) => r.GetValue(Config);

    /// <summary>The overrides, then <paramref name="extra"/> (flags that stand for config keys).</summary>
    public List<string> Overrides(ParseResult r, IEnumerable<string>? extra = null) => [.. r.GetValue(Set) ?? [], .. extra ?? []];

    /// <summary>The config with the overrides applied (null when none was given and there is no default).</summary>
    public ExperimentConfig? Load(ParseResult r, IEnumerable<string>? extra = null) =>
        File(r) is { } file ? ConfigLoader.Load(file.FullName, Overrides(r, extra)) : null;

    /// <summary>The same for a command that needs a config.</summary>
    public ExperimentConfig Require(ParseResult r) => Load(r) ?? throw new ArgumentException("--config is required");
}

/// <summary><c>--ref-stats</c> (Inception, gFID) and <c>--ref-stats-resnet18</c> (FD_ResNet18): the reference
/// statistics a generator's samples are compared with.</summary>
sealed class ReferenceStatsOptions(bool withResNet18 = true)
{
    readonly Option<FileInfo?> _inception = new("--ref-stats") { Description = "Reference statistics (.npz with mu, sigma; the original: train_imagenet256_stats.npz / ADM's VIRTUAL_imagenet256_labeled.npz) for gFID" };
    readonly Option<FileInfo?> _resnet18 = new("--ref-stats-resnet18") { Description = "Reference statistics of CNTK ResNet-18 features (.npz with mu [512], sigma [512, 512]; maskbit fid-stats --network resnet18) for FD_ResNet18" };

    public void AddTo(Command command)
    {
        command.Options.Add(_inception);
        if (withResNet18) command.Options.Add(_resnet18);
    }

    public FidStatistics? LoadInception(ParseResult r) => r.GetValue(_inception) is { } f ? FidStatistics.Load(f.FullName) : null;

    public FidStatistics? LoadResNet18(ParseResult r) =>
        withResNet18 && r.GetValue(_resnet18) is { } f ? GeneratorEvaluationRun.LoadResNet18Reference(f.FullName) : null;
}
