using System.CommandLine;
using MaskBit.Pipeline;
using static TorchSharp.torch;

namespace MaskBit.Cli.Options;

/// <summary>Image inputs of the tokenizer commands: files or folders, the model's input size, batching.</summary>
sealed class ImageInputOptions
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

    /// <summary>--resolution as the config override it stands for.</summary>
    public IEnumerable<string> Overrides(ParseResult r) =>
        r.GetValue(_resolution) is int size ? [$"dataset.preprocessing.resolution={CliChecks.Positive(size, "--resolution")}"] : [];

    /// <summary>The files in batches: [B, 3, S, S] in [0,1] on the CPU (the model's evaluation transform), allocated in the caller's dispose scope.</summary>
    public IEnumerable<(string[] files, Tensor images)> Batches(ParseResult r, IReadOnlyList<string> files, MaskBitPipeline pipeline)
    {
        pipeline.BatchSize = r.GetValue(_batchSize);
        foreach (var chunk in files.Chunk(pipeline.BatchSize))
            yield return (chunk, pipeline.ReadImages(chunk));
    }
}
