using System.CommandLine;
using MaskBit.Evaluation;
using MaskBit.Networks;
using static TorchSharp.torch;

namespace MaskBit.Cli.Options;

/// <summary>
/// The pretrained networks of the metrics, which the user supplies (none can be downloaded at run time): the FID
/// Inception (<see cref="InceptionV3.WeightFileName"/>) and LPIPS (<see cref="Lpips.VggFileName"/> +
/// <see cref="Lpips.LinFileName"/>). A flag names a file; without it the file is looked up in the weights folder
/// (<c>$MASKBIT_WEIGHTS</c>, else <c>~/.cache/maskbit/weights</c>). The CNTK ResNet-18 of FD-ResNet18 comes from the NuGet
/// cache instead (the project's build restores it), or from the file <c>--resnet18</c> names.
/// </summary>
sealed class EvalWeightOptions(bool withLpips)
{
    public readonly Option<FileInfo?> Inception = new("--inception")
    {
        Description = $"FID Inception weights ({InceptionV3.WeightFileName}, pytorch-fid release 'fid_weights'); default: the weights folder",
    };
    public readonly Option<FileInfo?> LpipsVgg = new("--lpips-vgg") { Description = $"torchvision VGG16 IMAGENET1K_V1 weights ({Lpips.VggFileName}) for LPIPS; default: the weights folder" };
    public readonly Option<FileInfo?> LpipsLin = new("--lpips-lin") { Description = $"LPIPS v0.1 lin weights ({Lpips.LinFileName}, the original's pretrained/vgg_lpips.pth); default: the weights folder" };

    public readonly Option<FileInfo?> ResNet18 = new("--resnet18")
    {
        Description = $"{ResNet18Cntk.ModelFileName} (NuGet {ResNet18Cntk.PackageId} {ResNet18Cntk.PackageVersion}) for the FD_ResNet18 metric; default: the NuGet cache",
    };

    public static string Folder => Environment.GetEnvironmentVariable("MASKBIT_WEIGHTS") is { Length: > 0 } dir
        ? dir : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "maskbit", "weights");

    public void AddTo(Command command)
    {
        command.Options.Add(Inception);
        command.Options.Add(ResNet18);
        if (!withLpips) return;
        command.Options.Add(LpipsVgg);
        command.Options.Add(LpipsLin);
    }

    /// <summary>The file a flag names (must exist), else the weights folder's copy, else null.</summary>
    static string? Find(ParseResult r, Option<FileInfo?> option, string fileName)
    {
        if (r.GetValue(option) is { } given)
            return given.Exists ? given.FullName : throw new FileNotFoundException($"{option.Name}: {given.FullName} does not exist");
        var fallback = Path.Combine(Folder, fileName);
        return File.Exists(fallback) ? fallback : null;
    }

    static string Missing(string fileName, string what, string option) =>
        $"{fileName} not found: {what}; pass {option} FILE or put it in {Folder} (or set MASKBIT_WEIGHTS)";

    public InceptionV3? LoadInception(ParseResult r, Device device) =>
        Find(r, Inception, InceptionV3.WeightFileName) is { } path ? InceptionV3.Load(path, device) : null;

    public InceptionV3 RequireInception(ParseResult r, Device device) => LoadInception(r, device)
        ?? throw new FileNotFoundException(InceptionMissing);

    /// <summary>The CNTK ResNet-18 (the <c>--resnet18</c> file, which must exist, else the NuGet cache's), or null when absent.</summary>
    public ResNet18Cntk? LoadResNet18(ParseResult r, Device device) =>
        ResNet18Cntk.Find(r.GetValue(ResNet18)?.FullName) is { } path ? ResNet18Cntk.Load(path, device) : null;

    /// <summary>Why FD_ResNet18 cannot run.</summary>
    public static string ResNet18Missing => $"{ResNet18Cntk.MissingMessage} with --resnet18";

    public Lpips? LoadLpips(ParseResult r, Device device)
    {
        var vgg = Find(r, LpipsVgg, Lpips.VggFileName);
        var lin = Find(r, LpipsLin, Lpips.LinFileName);
        return vgg is not null && lin is not null ? Lpips.Load(vgg, lin, device) : null;
    }

    /// <summary>Why the Inception metrics cannot run (the missing file and where it goes).</summary>
    public static string InceptionMissing => Missing(InceptionV3.WeightFileName, "the FID Inception network (pytorch-fid release 'fid_weights')", "--inception");

    /// <summary>Why LPIPS cannot run (the missing files and where they go).</summary>
    public string LpipsMissing(ParseResult r)
    {
        var missing = new[] { (LpipsVgg, Lpips.VggFileName), (LpipsLin, Lpips.LinFileName) }.Where(x => Find(r, x.Item1, x.Item2) is null).Select(x => x.Item2);
        return $"{string.Join(" and ", missing)} not found; pass --lpips-vgg/--lpips-lin or put them in {Folder} (or set MASKBIT_WEIGHTS)";
    }
}
