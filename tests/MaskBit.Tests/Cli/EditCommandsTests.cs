using MaskBit.Data;
using MaskBit.Imaging;
using static TorchSharp.torch;

namespace MaskBit.Tests.Cli;

/// <summary><c>maskbit inpaint / outpaint / edit / bitflip / interpolate</c> on the golden tiny models (32x32 images, 8x8 tokens of 10 bits).</summary>
public class EditCommandsTests
{
    static string Config => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
    static string Tokenizer => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");
    static string Generator => Path.Combine(Golden.RepoCopy, "generator_lfqbert_small", "model.bin");
    static string Image => Path.Combine(Golden.RepoRoot, "tests", "fixtures", "images", "input.png");       // 37x23
    static string Other => Path.Combine(Golden.RepoRoot, "tests", "fixtures", "images", "input_gray.png");
    static string[] Model => ["-c", Config, "--tokenizer", Tokenizer, "-g", Generator];

    static (int code, string stdout, string stderr) Run(params string[] args) => CliRunner.Run(args);

    static Tensor Tokens(CliRunner.TempDir tmp, string name) => TokenFile.Read(tmp[name]).Tokens;

    [Fact]
    public void InpaintChangesOnlyTheBoxTokensAndIsReproducibleWithASeed()
    {
        using var tmp = new CliRunner.TempDir();
        Assert.Equal(0, Run(["tokenize", "-c", Config, "--tokenizer", Tokenizer, Image, "-o", tmp["before.safetensors"]]).code);
        // Box x 10..20 of the 37-wide file -> crop pixels ~4..17 -> token columns 1..4; rows 0..1.
        string[] args = ["inpaint", .. Model, "--image", Image, "--box", "10,0,20,6", "--class", "goldfish", "--steps", "8", "--seed", "3"];
        var (code, stdout, stderr) = Run([.. args, "-o", tmp["a.png"], "--save-tokens", tmp["a.safetensors"]]);
        Assert.True(code == 0, stderr);
        Assert.Contains("inpainted", stdout);
        var png = Images.Read(tmp["a.png"]);
        Assert.Equal((96, 32), (png.Width, png.Height));                                    // input | mask | result
        var before = Tokens(tmp, "before.safetensors").view(8, 8);
        var after = Tokens(tmp, "a.safetensors").view(8, 8);
        var changed = after.ne(before);
        Assert.False(changed.narrow(0, 2, 6).any().item<bool>(), "a token below the box changed");
        Assert.False(changed.narrow(1, 5, 3).any().item<bool>(), "a token right of the box changed");
        Assert.True(changed.sum().item<long>() > 0);
        Assert.Equal(0, Run([.. args, "-o", tmp["b.png"]]).code);
        Assert.Equal(File.ReadAllBytes(tmp["a.png"]), File.ReadAllBytes(tmp["b.png"]));
        Assert.Equal(0, Run([.. args[..^1], "4", "-o", tmp["c.png"]]).code);
        Assert.NotEqual(File.ReadAllBytes(tmp["a.png"]), File.ReadAllBytes(tmp["c.png"]));
    }

    [Fact]
    public void InpaintWithAMaskPictureAndTheModelFolderGivesTheSameBytesAsWithTheFiles()
    {
        using var tmp = new CliRunner.TempDir();
        var pixels = new byte[37 * 23 * 3];
        for (int y = 10; y < 23; y++) Array.Fill(pixels, (byte)255, (y * 37 + 20) * 3, 17 * 3);
        Images.Save(tmp["mask.png"], new RgbImage(37, 23, pixels));
        Assert.Equal(0, Run(["export", .. Model, "-o", tmp["model"]]).code);
        string[] common = ["--image", Image, "--mask", tmp["mask.png"], "--dilate", "1", "--class", "1", "--steps", "4", "--blend"];
        var (c1, _, e1) = Run(["inpaint", "--model", tmp["model"], .. common, "-o", tmp["a.png"]]);
        Assert.True(c1 == 0, e1);
        var (c2, _, e2) = Run(["inpaint", .. Model, .. common, "-o", tmp["b.png"]]);
        Assert.True(c2 == 0, e2);
        Assert.Equal(File.ReadAllBytes(tmp["a.png"]), File.ReadAllBytes(tmp["b.png"]));
    }

    [Fact]
    public void OutpaintWritesTheRequestedSizeAndEditRegeneratesTheShare()
    {
        using var tmp = new CliRunner.TempDir();
        var (code, stdout, stderr) = Run(["outpaint", .. Model, "--image", Image, "--extend", "left=8,right=8,top=6,bottom=8", "--class", "3", "--steps", "4",
            "-o", tmp["o.png"], "--save-tokens", tmp["o.txt"]]);
        Assert.True(code == 0, stderr);
        Assert.Contains("extended to 48x48 pixels", stdout);                                // 8 px = 2 tokens, 6 px rounds to 2 (halves up)
        var png = Images.Read(tmp["o.png"]);
        Assert.Equal((3 * 48, 48), (png.Width, png.Height));
        Assert.Equal(new long[] { 1, 144 }, Tokens(tmp, "o.txt").shape);

        Assert.Equal(0, Run(["tokenize", "-c", Config, "--tokenizer", Tokenizer, Image, "-o", tmp["before.txt"]]).code);
        var (c2, out2, e2) = Run(["edit", .. Model, "--image", Image, "--class", "9", "--fraction", "0.25", "--steps", "4", "-o", tmp["e.png"], "--save-tokens", tmp["e.txt"]]);
        Assert.True(c2 == 0, e2);
        Assert.Contains("regenerated 16 token(s) (25", out2);
        Assert.InRange(Tokens(tmp, "e.txt").ne(Tokens(tmp, "before.txt")).sum().item<long>(), 12, 16);
    }

    [Fact]
    public void BitflipTwiceRestoresTheTokensAndTheSweepShowsEveryBit()
    {
        using var tmp = new CliRunner.TempDir();
        Assert.Equal(0, Run(["tokenize", "-c", Config, "--tokenizer", Tokenizer, Image, "-o", tmp["before.txt"]]).code);
        var (code, _, stderr) = Run(["bitflip", "-c", Config, "--tokenizer", Tokenizer, "--image", Image, "--bits", "0,3,9", "-o", tmp["f.png"], "--save-tokens", tmp["f.txt"]]);
        Assert.True(code == 0, stderr);
        var before = Tokens(tmp, "before.txt");
        Assert.True(Tokens(tmp, "f.txt").bitwise_xor(before).eq(1 + 8 + 512).all().item<bool>());
        // Decoding the flipped tokens and flipping the same bits again gives the image's tokens back.
        Assert.Equal(0, Run(["detokenize", "-c", Config, "--tokenizer", Tokenizer, tmp["f.txt"], "-o", tmp["decoded"]]).code);
        Assert.True(BitFlipsAgain(Tokens(tmp, "f.txt")).equal(before).all().item<bool>());
        Assert.Equal((4 * 32, 32), Size(tmp["f.png"]));                                       // input | mask | reconstruction | result

        Assert.Equal(0, Run(["bitflip", "-c", Config, "--tokenizer", Tokenizer, "--image", Image, "-o", tmp["sweep.png"]]).code);
        Assert.Equal((8 * 32, 3 * 32), Size(tmp["sweep.png"]));                              // head row, then 10 bits 8 a row
    }

    static Tensor BitFlipsAgain(Tensor tokens) =>
        MaskBit.Editing.BitFlips.Flip(tokens.view(1, 8, 8), [0, 3, 9], 10).view(1, 64);

    static (int, int) Size(string png) { var i = Images.Read(png); return (i.Width, i.Height); }

    [Fact]
    public void InterpolateWritesEveryPointBetweenTheEnds()
    {
        using var tmp = new CliRunner.TempDir();
        string[] args = ["interpolate", "-c", Config, "--tokenizer", Tokenizer, "--from", Image, "--to", Other, "--steps", "5", "--seed", "2"];
        var (code, stdout, stderr) = Run([.. args, "-o", tmp["i.png"], "--save-tokens", tmp["i.txt"]]);
        Assert.True(code == 0, stderr);
        Assert.Contains("5 images", stdout);
        Assert.Equal(((5 + 3) * 32, 32), Size(tmp["i.png"]));                               // from | mask | 5 points | to
        Assert.Equal(new long[] { 5, 64 }, Tokens(tmp, "i.txt").shape);
        Assert.Equal(0, Run([.. args, "-o", tmp["j.png"]]).code);
        Assert.Equal(File.ReadAllBytes(tmp["i.png"]), File.ReadAllBytes(tmp["j.png"]));
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "mask-size", "the mask is 10x10, the image is 37x23: expected the same size" },
        { "mask-empty", "the mask covers no pixel" },
        { "box-outside", "box 0,0,40,10 is not inside the 37x23 image" },
        { "bit-width", "bit 10 is beyond the 10-bit tokens (bits 0..9)" },
        { "no-region", "inpaint needs a region" },
        { "no-whole-token", "adds no whole 4-pixel token" },
        { "fraction", "--fraction must be in (0, 1], got 1.5" },
        { "non-square-tokens", "token files hold square grids" },
    };

    [Theory, MemberData(nameof(BadInputs))]
    public void BadInputIsOneLineAndNonZeroExit(string kind, string expected)
    {
        using var tmp = new CliRunner.TempDir();
        Images.Save(tmp["small.png"], new RgbImage(10, 10, new byte[300]));
        Images.Save(tmp["black.png"], new RgbImage(37, 23, new byte[37 * 23 * 3]));
        string[] inpaint = ["inpaint", .. Model, "--image", Image, "--class", "1", "-o", tmp["x.png"]];
        string[] args = kind switch
        {
            "mask-size" => [.. inpaint, "--mask", tmp["small.png"]],
            "mask-empty" => [.. inpaint, "--mask", tmp["black.png"]],
            "box-outside" => [.. inpaint, "--box", "0,0,40,10"],
            "bit-width" => ["bitflip", "-c", Config, "--tokenizer", Tokenizer, "--image", Image, "--bits", "2,10", "-o", tmp["x.png"]],
            "no-region" => inpaint,
            "no-whole-token" => ["outpaint", .. Model, "--image", Image, "--class", "1", "--extend", "left=1", "-o", tmp["x.png"]],
            "fraction" => ["edit", .. Model, "--image", Image, "--class", "1", "--fraction", "1.5", "-o", tmp["x.png"]],
            _ => ["outpaint", .. Model, "--image", Image, "--class", "1", "--extend", "left=8", "--save-tokens", tmp["t.txt"], "-o", tmp["x.png"]],
        };
        var (code, _, stderr) = Run(args);
        Assert.Equal(1, code);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(File.Exists(tmp["x.png"]));
    }
}
