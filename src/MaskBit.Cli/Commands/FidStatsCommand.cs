using System.CommandLine;
using MaskBit.Distributed;
using MaskBit.Evaluation;
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
            nn.Module features = resnet ? resnet18! : inception!;
            int mine = Shard.Of(ProcessGroup.World).Of(files).Count; // the bar: rank 0's part
            using var stats = Progress.Run($"{(resnet ? "ResNet-18" : "Inception")} features of {files.Count} image(s)", mine, advance =>
                ReferenceStatistics.Compute(files, features, size, bs, dev, n => advance(n), ProcessGroup.World));
            if (!ProcessGroup.World.IsMain) return 0; // rank 0 writes
            stats.Save(r.GetValue(output)!.FullName);
            Console.WriteLine($"wrote {(resnet ? "FD_ResNet18" : "FID")} statistics of {files.Count} image(s) (mu [{stats.Dim}], sigma [{stats.Dim}, {stats.Dim}]) to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }
}
