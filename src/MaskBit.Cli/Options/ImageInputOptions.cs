using System.CommandLine;
using MaskBit.Pipeline;
using static TorchSharp.torch;

namespace MaskBit.Cli.Options;

/// <summary>What the tokenizer commands share: the model, image files or folders, the model's input size, batching.</summary>
sealed class ImageInputOptions
{
    readonly ModelOptions _model = new(withGenerator: false);
    readonly Argument<string[]> _images = new("images") { Description = "Image files or folders (any format Skia reads)", Arity = ArgumentArity.OneOrMore };
    readonly Option<int?> _resolution = new("--resolution") { Description = "Resize shorter side + centre crop to this size (default: dataset.preprocessing.resolution, else 256)" };
    readonly Option<int> _batchSize = new("--batch-size") { Description = "Images per forward pass", DefaultValueFactory = _ => 8 };

    /// <summary>The command with the model's options, the images and these, then <paramref name="extra"/>.</summary>
    public Command Command(string name, string description, params Option[] extra)
    {
        var command = new Command(name, description);
        _model.AddTo(command);
        command.Arguments.Add(_images);
        command.Options.Add(_resolution);
        command.Options.Add(_batchSize);
        foreach (var o in extra) command.Options.Add(o);
        return command;
    }

    /// <summary>The image files (checked first: a missing file fails before any model is loaded), then the model.</summary>
    public (List<string> Files, MaskBitPipeline Pipeline) Load(ParseResult r)
    {
        var files = Files(r);
        return (files, _model.Load(r, Overrides(r)));
    }

    List<string> Files(ParseResult r)
    {
        CliChecks.Positive(r.GetValue(_batchSize), "--batch-size");
        return ImageFiles.Expand(r.GetValue(_images)!);
    }

    /// <summary>--resolution as the config override it stands for.</summary>
    IEnumerable<string> Overrides(ParseResult r) =>
        r.GetValue(_resolution) is int size ? [$"dataset.preprocessing.resolution={CliChecks.Positive(size, "--resolution")}"] : [];

    /// <summary>The files in batches: [B, 3, S, S] in [0,1] on the CPU (the model's evaluation transform), allocated in the caller's dispose scope.</summary>
    public IEnumerable<(string[] files, Tensor images)> Batches(ParseResult r, IReadOnlyList<string> files, MaskBitPipeline pipeline)
    {
        pipeline.BatchSize = r.GetValue(_batchSize);
        foreach (var chunk in files.Chunk(pipeline.BatchSize))
            yield return (chunk, pipeline.ReadImages(chunk));
    }
}
