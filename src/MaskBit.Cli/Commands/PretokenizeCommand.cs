using System.CommandLine;
using MaskBit.Data;
using MaskBit.Distributed;
using MaskBit.Imaging;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit pretokenize</c>: encode a data set once with a tokenizer into a token cache folder (shards of token
/// indices and labels, recording which tokenizer made them) that <c>train-generator</c> reads instead of images.
/// </summary>
public static class PretokenizeCommand
{
    public static Command Create()
    {
        var model = new ModelOptions(withGenerator: false);
        var data = new Option<string>("--data") { Description = "Data set: an image folder, tar shards or fashion-mnist[:FOLDER]", Required = true };
        var split = new Option<string>("--split") { Description = "train or eval (Fashion-MNIST: train-* or t10k-* files)", DefaultValueFactory = _ => "train" };
        var flip = new Option<bool>("--flip") { Description = "Also encode each image mirrored (twice the examples; only for data whose mirror images are as likely, e.g. not Fashion-MNIST, whose shoes all point left)" };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Token cache folder to create", Required = true };

        var cmd = new Command("pretokenize", "Encode a data set once into a token cache for train-generator.");
        model.AddTo(cmd);
        foreach (var o in new Option[] { data, split, flip, output }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var which = r.GetValue(split) switch
            {
                "train" => DataSplit.Train, "eval" => DataSplit.Eval,
                var other => throw new ArgumentException($"--split must be train or eval, got '{other}'"),
            };
            var dataset = Datasets.Open(r.GetValue(data)!, which);
            using var pipeline = model.Load(r);
            var interpolation = Images.ParseInterpolation(pipeline.Config.Dataset?.Preprocessing?.Interpolation ?? "bilinear");
            int count = 0;
            Progress.Run($"encoding {dataset.Count} image(s)", dataset.Count, advance =>
            {
                int last = 0;
                count = TokenCache.Write(r.GetValue(output)!.FullName, dataset, pipeline.Tokenizer, pipeline.ImageSize, interpolation,
                    r.GetValue(flip), pipeline.Device, progress: done => { advance(done - last); last = done; }, group: ProcessGroup.World);
            });
            if (ProcessGroup.World.IsMain) Console.WriteLine($"wrote {count} token grids ({pipeline.TokenGridSize}x{pipeline.TokenGridSize}, codebook {pipeline.CodebookSize}) of {dataset.ClassNames.Count} classes to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }
}
