using System.CommandLine;
using MaskBit.Config;
using MaskBit.Data;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// Image inputs of the tokenizer commands: files or folders, the evaluation transform of the original (resize the
/// shorter side + centre crop, with the config's interpolation) and batching.
/// </summary>
public sealed class ImageInputOptions
{
    readonly Argument<string[]> _images = new("images") { Description = "Image files or folders (any format Skia reads)", Arity = ArgumentArity.OneOrMore };
    readonly Option<int?> _resolution = new("--resolution") { Description = "Resize shorter side + centre crop to this size (default: dataset.preprocessing.resolution, else 256)" };
    readonly Option<int> _batchSize = new("--batch-size") { Description = "Images per forward pass", DefaultValueFactory = _ => 8 };

    public void AddTo(Command command)
    {
        command.Arguments.Add(_images);
        command.Options.Add(_resolution);
        command.Options.Add(_batchSize);
    }

    /// <summary>The image files, checked before any model is loaded (a missing file fails fast).</summary>
    public List<string> Files(ParseResult r)
    {
        CliChecks.Positive(r.GetValue(_batchSize), "--batch-size");
        return ImageFiles.Expand(r.GetValue(_images)!);
    }

    /// <summary>Side of the square model input.</summary>
    public int Size(ParseResult r, ExperimentConfig config) => r.GetValue(_resolution) ?? config.Dataset?.Preprocessing?.Resolution ?? 256;

    /// <summary>The files in batches: [B, 3, S, S] in [0,1] on <paramref name="device"/>, allocated in the caller's dispose scope.</summary>
    public IEnumerable<(string[] files, Tensor images)> Batches(ParseResult r, IReadOnlyList<string> files, ExperimentConfig config, Device device)
    {
        int size = Size(r, config);
        var interpolation = Images.ParseInterpolation(config.Dataset?.Preprocessing?.Interpolation ?? "bilinear");
        foreach (var chunk in files.Chunk(r.GetValue(_batchSize)))
            yield return (chunk, stack(chunk.Select(f => Images.EvalTransform(Images.Read(f), size, interpolation))).to(device));
    }
}
