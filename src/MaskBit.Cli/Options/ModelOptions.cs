using System.CommandLine;
using MaskBit.Pipeline;
using static TorchSharp.torch;

namespace MaskBit.Cli.Options;

/// <summary>
/// Options every model command shares: which model (a model folder, or a config with weight files), config overrides
/// and the device. Turns them into a <see cref="MaskBitPipeline"/>; with none of them, the bundled model.
/// </summary>
sealed class ModelOptions(bool withGenerator)
{
    public readonly Option<DirectoryInfo?> Model = new("--model", "-m")
    {
        Description = "Model folder (config.yaml, tokenizer.safetensors, generator.safetensors, classes.txt; see `maskbit export`); default: the bundled Fashion-MNIST model",
    };
    public readonly ConfigOptions Config = new("Config YAML (configs/tokenizer/*.yaml, configs/generator/*.yaml, ...), with --tokenizer" + (withGenerator ? " and --generator" : ""), required: false);
    public readonly Option<string?> Tokenizer = new("--tokenizer", "--checkpoint")
    {
        Description = "Tokenizer weights (.bin/.pt/.ckpt/.safetensors or a folder with pytorch_model.bin); default: experiment.vqgan_checkpoint",
    };
    public readonly Option<string?> Generator = new("--generator", "-g")
    {
        Description = "Generator weights (released maskbit_generator_*.bin or our own)",
    };
    public readonly Option<string> Device = SharedOptions.Device();
    public readonly Option<bool> NoVerify = new("--no-verify")
    {
        Description = "Load a model folder without checking its files against SHA256SUMS (for folders edited by hand)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Config.Config);
        command.Options.Add(Tokenizer);
        if (withGenerator) command.Options.Add(Generator);
        command.Options.Add(Device);
        command.Options.Add(NoVerify);
        command.Options.Add(Config.Set);
    }

    /// <summary>Loads the pipeline the options name, strictly, in eval mode on the chosen device.</summary>
    public MaskBitPipeline Load(ParseResult r, IEnumerable<string>? extraOverrides = null)
    {
        var device = r.GetDevice(Device);
        var overrides = Config.Overrides(r, extraOverrides);
        if (r.GetValue(Model) is { } folder)
        {
            if (Config.File(r) is not null || r.GetValue(Tokenizer) is not null || r.GetValue(Generator) is not null)
                throw new ArgumentException("--model names a complete model: give it alone, or --config with weight files instead");
            return MaskBitPipeline.FromFolder(folder.FullName, device, overrides, skipDigests: r.GetValue(NoVerify));
        }
        if (Config.File(r) is null)
        {
            if (r.GetValue(Tokenizer) is not null || r.GetValue(Generator) is not null)
                throw new ArgumentException("weight files need --config (the architecture they belong to)");
            if (!Directory.Exists(BundledModels.Generator))
                throw new ArgumentException($"no model: give --model DIR, or --config with --tokenizer{(withGenerator ? " and --generator" : "")} (the bundled model {BundledModels.Generator} is missing)");
            return MaskBitPipeline.FromFolder(BundledModels.Generator, device, overrides, skipDigests: r.GetValue(NoVerify));
        }
        var config = Config.Load(r, extraOverrides)!;
        var tokenizer = r.GetValue(Tokenizer) ?? config.Experiment?.VqganCheckpoint
            ?? throw new ArgumentException("no tokenizer weights: pass --tokenizer or set experiment.vqgan_checkpoint");
        string? generator = null;
        if (withGenerator)
            generator = r.GetValue(Generator) ?? throw new ArgumentException("no generator weights: pass --generator with --config");
        return MaskBitPipeline.Load(config, tokenizer, generator, device);
    }
}
