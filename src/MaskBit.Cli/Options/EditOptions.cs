using System.CommandLine;
using MaskBit.Data;
using MaskBit.Editing;
using MaskBit.Imaging;
using MaskBit.Pipeline;
using static TorchSharp.torch;

namespace MaskBit.Cli.Options;

/// <summary>
/// What the editing commands (inpaint, outpaint, edit, bitflip, interpolate) share: the model, the input image
/// (<c>--image</c>, unless <paramref name="imageDescription"/> is null), the output PNG (input | mask | result side by
/// side), <c>--save-tokens</c>, <c>--seed</c>, and optionally a class, a region (<c>--mask</c> / <c>--box</c> /
/// <c>--dilate</c>) and the sampler's knobs.
/// </summary>
sealed class EditOptions(string command, string? imageDescription, bool withClass, bool withRegion, bool withSampling, bool withSeed)
{
    public readonly ModelOptions Model = new(withGenerator: withClass);
    readonly Option<FileInfo> _image = new("--image", "-i") { Description = imageDescription, Required = true };
    readonly Option<FileInfo> _output = new("--output", "-o") { Description = "PNG to write: input | mask | result side by side", DefaultValueFactory = _ => new FileInfo($"{command}.png") };
    readonly Option<FileInfo?> _saveTokens = new("--save-tokens") { Description = "Also write the result's token grid (.safetensors or .txt, as `maskbit tokenize`; `maskbit detokenize` reads it)" };
    readonly Option<ulong> _seed = SharedOptions.Seed("Random seed (same seed, same result)", 42);
    readonly Option<string> _class = new("--class") { Description = "Class to generate, by index or name (\"207\", \"goldfish\")", Required = true };
    readonly Option<FileInfo?> _mask = new("--mask") { Description = "Mask picture of the image's size, white where to edit (resized and cropped like the image)" };
    readonly Option<string?> _box = new("--box") { Description = "Region x0,y0,x1,y1 in the image file's pixels (x1, y1 exclusive)" };
    readonly Option<int> _dilate = new("--dilate") { Description = "Grow the region by this many tokens on every side", DefaultValueFactory = _ => 0 };
    public readonly SamplingFlags Sampling = new("Decoding steps for a whole token grid (num_steps), scaled down to the share to regenerate");

    /// <summary>The command, with the input image first, then these options, then <paramref name="extra"/>.</summary>
    public Command Command(string description, params Option[] extra)
    {
        var cmd = new Command(command, description);
        if (imageDescription is not null) cmd.Options.Add(_image);
        AddTo(cmd);
        foreach (var o in extra) cmd.Options.Add(o);
        return cmd;
    }

    void AddTo(Command cmd)
    {
        Model.AddTo(cmd);
        if (withClass) cmd.Options.Add(_class);
        if (withRegion) { cmd.Options.Add(_mask); cmd.Options.Add(_box); cmd.Options.Add(_dilate); }
        if (withSampling) Sampling.AddTo(cmd);
        if (withSeed) cmd.Options.Add(_seed);
        cmd.Options.Add(_output);
        cmd.Options.Add(_saveTokens);
    }

    public ulong Seed(ParseResult r) => r.GetValue(_seed);
    public string Output(ParseResult r) => r.GetValue(_output)!.FullName;
    public int Class(ParseResult r, MaskBitPipeline pipeline) => pipeline.Classes.Resolve(r.GetValue(_class)!);

    /// <summary>Checks the flags that need no model (before loading one).</summary>
    public void CheckFlags(ParseResult r)
    {
        if (withSampling) Sampling.Preset(r);
        if (!withRegion) return;
        if (r.GetValue(_mask) is not null && r.GetValue(_box) is not null) throw new ArgumentException("give --mask or --box, not both");
        if (r.GetValue(_dilate) < 0) throw new ArgumentException($"--dilate must be >= 0 tokens, got {r.GetValue(_dilate)}");
        if (r.GetValue(_box) is { } box) PixelBox.Parse(box);
    }

    /// <summary>The flags checked (<see cref="CheckFlags"/>), then the model they name.</summary>
    public MaskBitPipeline Load(ParseResult r)
    {
        CheckFlags(r);
        return Model.Load(r);
    }

    /// <summary>The <c>--image</c> file: its size and the model's view of it [1, 3, S, S].</summary>
    public (RgbImage file, Tensor model) ReadImage(ParseResult r, MaskBitPipeline pipeline) => ReadImage(pipeline, r.GetValue(_image)!);

    /// <summary>An image file: its size and the model's view of it [1, 3, S, S].</summary>
    public static (RgbImage file, Tensor model) ReadImage(MaskBitPipeline pipeline, FileInfo path) =>
        (Images.Read(path.FullName), pipeline.ReadImages([path.FullName]));

    /// <summary>The token region of <c>--mask</c> or <c>--box</c> (dilated by <c>--dilate</c>); null when neither is given.</summary>
    public TokenMask? Region(ParseResult r, MaskBitPipeline pipeline, RgbImage image)
    {
        TokenMask? region = null;
        if (r.GetValue(_mask) is { } maskFile)
            region = pipeline.MaskFromImage(Images.Read(maskFile.FullName), image.Width, image.Height, $"--mask {maskFile.Name}");
        else if (r.GetValue(_box) is { } box)
            region = pipeline.MaskFromBox(PixelBox.Parse(box), image.Width, image.Height);
        return region?.Dilate(r.GetValue(_dilate));
    }

    /// <summary>A progress bar over <paramref name="steps"/> decoding steps, whatever the number of windows and scaled steps.</summary>
    public static T WithProgress<T>(string description, int steps, Func<Action<GenerationProgress>, T> work) =>
        Progress.Run(description, steps, advance => work(p => advance((double)steps / (p.Steps * p.Batches))));

    /// <summary>Writes the PNG (rows of [3, H, W] images of one size) and, with --save-tokens, the tokens [B, h, w] (a
    /// square grid), each row's source named <paramref name="sources"/> (default: the <c>--image</c> file).</summary>
    public void Save(ParseResult r, MaskBitPipeline pipeline, IReadOnlyList<IReadOnlyList<Tensor>> rows, Tensor tokens, IReadOnlyList<string>? sources = null)
    {
        Images.SaveGrid(Output(r), rows);
        sources ??= Enumerable.Repeat(r.GetValue(_image)!.FullName, (int)tokens.shape[0]).ToList();
        if (r.GetValue(_saveTokens) is { } file)
            TokenFile.Write(file.FullName, new TokenFile(tokens.reshape(tokens.shape[0], -1), sources, (int)tokens.shape[1], pipeline.CodebookSize));
    }

    /// <summary>--save-tokens writes square grids only: a one-line error before any work when the result's grid is not.</summary>
    public void CheckSquareTokens(ParseResult r, int height, int width)
    {
        if (r.GetValue(_saveTokens) is not null && height != width)
            throw new ArgumentException($"--save-tokens: the result's token grid is {width}x{height}, token files hold square grids (extend left+right and top+bottom by the same amount)");
    }
}
