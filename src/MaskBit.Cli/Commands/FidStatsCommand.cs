using System.CommandLine;
using MaskBit.Evaluation;
using MaskBit.Imaging;
using MaskBit.Networks;
using MaskBit.Training.Losses;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit fid-stats DATA -o stats.npz</c>: Inception pool statistics (mu, sigma) of a folder of images, written in
/// the pytorch-fid / ADM layout, for use as <c>--ref-stats</c> of <c>eval-generator</c>; with <c>--network resnet18</c>,
/// the 512-d CNTK ResNet-18 statistics that <c>--ref-stats-resnet18</c> takes (FD_ResNet18).
/// </summary>
public static class FidStatsCommand
{
    public static Command Create()
    {
        var data = new Argument<string[]>("data") { Description = "Image files or folders", Arity = ArgumentArity.OneOrMore };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Statistics file to write (.npz with mu [2048], sigma [2048, 2048])", Required = true };
        var resolution = new Option<int?>("--resolution") { Description = "Resize the shorter side (bilinear) and centre crop to this size first (default: feed images as they are; the network resizes to 299 itself)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per Inception pass", DefaultValueFactory = _ => 16 };
        var device = SharedOptions.Device();
        var network = new Option<string>("--network") { Description = "Feature network: inception (FID, 2048-d) or resnet18 (FD_ResNet18, 512-d, from the NuGet cache)", DefaultValueFactory = _ => "inception" };
        network.AcceptOnlyFromAmong("inception", "resnet18");
        var weights = new EvalWeightOptions(withLpips: false);

        var cmd = new Command("fid-stats", "Compute FID reference statistics (mu, sigma of Inception pool features) of a folder of images.");
        cmd.Arguments.Add(data);
        foreach (var o in new Option[] { output, resolution, batchSize, device, network }) cmd.Options.Add(o);
        weights.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var files = ImageFiles.Expand(r.GetValue(data)!);
            int bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            int? size = r.GetValue(resolution) is int s ? CliChecks.Positive(s, "--resolution") : null;
            var dev = r.GetDevice(device);
            bool resnet = r.GetValue(network) == "resnet18";
            using var inception = resnet ? null : weights.RequireInception(r, dev);
            using var resnet18 = resnet ? weights.LoadResNet18(r, dev) ?? throw new FileNotFoundException(EvalWeightOptions.ResNet18Missing) : null;
            using var moments = new FeatureMoments(resnet ? ResNet18Cntk.FeatureDim : 2048);
            Progress.Run($"{(resnet ? "ResNet-18" : "Inception")} features of {files.Count} image(s)", files.Count, advance =>
            {
                foreach (var chunk in files.Chunk(bs))
                {
                    using var scope = NewDisposeScope();
                    // The files' exact pixel values, as reference batches hold them (the tokenizer evaluator's float ->
                    // uint8 truncation is a quirk of comparing reconstructions, not applied to a dataset).
                    var images = chunk.Select(f => Images.Read(f)).Select(im => (size is int sz
                        ? Images.CenterCrop(Images.ResizeShorterSide(im, sz, Interpolation.Bilinear), sz) : im).ToBytes()).ToList();
                    if (images.Any(t => !t.shape.SequenceEqual(images[0].shape)))
                        throw new ArgumentException($"images of different sizes in one batch ({string.Join(", ", chunk.Take(3))}...): pass --resolution to crop them to one size");
                    using var _ = no_grad();
                    if (resnet18 is not null) moments.Add(resnet18.Embed(stack(images).to(dev).to(float32) / 255));
                    else
                    {
                        using var f = inception!.call(stack(images).to(dev));
                        moments.Add(f.F2048);
                    }
                    advance(chunk.Length);
                }
            });
            using var stats = moments.Statistics();
            stats.Save(r.GetValue(output)!.FullName);
            Console.WriteLine($"wrote {(resnet ? "FD_ResNet18" : "FID")} statistics of {moments.Count} image(s) (mu [{moments.Dim}], sigma [{moments.Dim}, {moments.Dim}]) to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }
}
