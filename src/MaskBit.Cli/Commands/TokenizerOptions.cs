using System.CommandLine;
using MaskBit.Config;
using MaskBit.Tokenizer;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>Options every tokenizer command shares: the config, its overrides, the checkpoint and the device.</summary>
public sealed class TokenizerOptions
{
    public readonly Option<FileInfo> Config = new("--config", "-c")
    {
        Description = "Tokenizer YAML (configs/tokenizer/*.yaml, configs/external/*.yaml or a generator config)",
        Required = true,
    };
    public readonly Option<string?> Checkpoint = new("--checkpoint", "--tokenizer")
    {
        Description = "Tokenizer weights (.bin/.pt/.ckpt/.safetensors or a folder with pytorch_model.bin); default: experiment.vqgan_checkpoint",
    };
    public readonly Option<string> Device = new("--device")
    {
        Description = "Torch device: cpu or cuda[:N]",
        DefaultValueFactory = _ => "cpu",
    };
    public readonly Option<string[]> Set = new("--set")
    {
        Description = "Config override key=value (dotted, as the original's CLI: model.vq_model.token_size=12); repeatable",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(Checkpoint);
        command.Options.Add(Device);
        command.Options.Add(Set);
    }

    public ExperimentConfig LoadConfig(ParseResult r) =>
        ConfigLoader.Load(r.GetValue(Config)!.FullName, r.GetValue(Set) ?? []);

    /// <summary>Loads the config and the tokenizer it names, strictly, in eval mode on the chosen device.</summary>
    public (ExperimentConfig config, ITokenizer tokenizer, Device device) LoadTokenizer(ParseResult r)
    {
        var config = LoadConfig(r);
        var vq = config.Model?.VqModel ?? throw new ArgumentException($"{r.GetValue(Config)!.Name}: no model.vq_model section");
        var path = r.GetValue(Checkpoint) ?? config.Experiment?.VqganCheckpoint
            ?? throw new ArgumentException("no tokenizer checkpoint: pass --checkpoint or set experiment.vqgan_checkpoint");
        var device = new Device(r.GetValue(Device)!);
        return (config, TokenizerFactory.Load(vq, path, device), device);
    }
}
