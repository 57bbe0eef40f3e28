using MaskBit.Imaging;
using static TorchSharp.torch;

namespace MaskBit.Tests.Cli;

/// <summary>End-to-end <c>maskbit generate</c> on the original's golden tokenizer (A) and generator (D).</summary>
public class GenerateCommandTests
{
    static string Config => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
    static string Tokenizer => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");
    static string Generator => Path.Combine(Golden.RepoCopy, "generator_lfqbert_small", "model.bin");

    static string[] Args(string output, params string[] extra) => ArgsWith(Tokenizer, Generator, output, extra);

    static string[] ArgsWith(string tokenizer, string generator, string output, params string[] extra) =>
        ["generate", "-c", Config, "--tokenizer", tokenizer, "-g", generator, "-o", output, .. extra];

    [Fact]
    public void WritesAGridWithARowPerClassAndIsReproducibleFromTheSeed()
    {
        using var tmp = new CliRunner.TempDir();
        var (code, stdout, stderr) = CliRunner.Run(Args(tmp["a.png"], "--classes", "207", "goldfish", "-n", "3", "--steps", "4", "--seed", "7",
            "--batch-size", "4", "--save-individual", tmp["each"]));
        Assert.True(code == 0, stderr);
        Assert.Contains("207 golden retriever, 1 goldfish", stdout);
        var grid = Images.Read(tmp["a.png"]);
        Assert.Equal(BitmapFont.Measure("golden retriever", 1) + 4 + 3 * 32, grid.Width); // the labels' margin, then 3 samples per class edge to edge
        Assert.Equal(2 * 32, grid.Height); // one row per class
        Assert.Equal(6, Directory.GetFiles(tmp["each"], "*.png").Length);
        Assert.True(File.Exists(Path.Combine(tmp["each"], "0003_001_goldfish.png")));

        Assert.Equal(0, CliRunner.Run(Args(tmp["b.png"], "--classes", "207", "goldfish", "-n", "3", "--steps", "4", "--seed", "7", "--batch-size", "4")).code);
        Assert.Equal(File.ReadAllBytes(tmp["a.png"]), File.ReadAllBytes(tmp["b.png"]));
        Assert.Equal(0, CliRunner.Run(Args(tmp["c.png"], "--classes", "207", "goldfish", "-n", "3", "--steps", "4", "--seed", "8", "--batch-size", "4")).code);
        Assert.NotEqual(File.ReadAllBytes(tmp["a.png"]), File.ReadAllBytes(tmp["c.png"]));
    }

    [Fact]
    public void DefaultClassesAreTheOriginalDemoLabels()
    {
        using var tmp = new CliRunner.TempDir();
        var (code, stdout, stderr) = CliRunner.Run(Args(tmp["d.png"], "-n", "1", "--steps", "2"));
        Assert.True(code == 0, stderr);
        Assert.Contains("10 class(es) (1 goldfish, 7 cock, 282 tiger cat", stdout);
        Assert.Equal(10 * 32, Images.Read(tmp["d.png"]).Height);
    }

    public static TheoryData<string, string[]> BadInputs => new()
    {
        { "out of range", ["--classes", "1000"] },
        { "did you mean 'goldfish'", ["--classes", "goldfsh"] },
        { "--steps must be >= 1", ["--steps", "0"] },
        { "--per-class must be >= 1", ["-n", "0"] },
        { "guidance_annealing", ["--guidance-annealing", "exp"] },
        { "the file holds a tokenizer, the model is a generator", ["SWAP-GENERATOR"] },
        { "generator for 10-bit tokens, but the tokenizer of the config has 12 bits", ["--set", "model.vq_model.token_size=12"] },
        { "the file holds a generator, the model is a tokenizer", ["SWAP-TOKENIZER"] },
    };

    [Theory, MemberData(nameof(BadInputs))]
    public void BadInputEndsWithOneLineErrorAndNonZeroExit(string expected, string[] extra)
    {
        using var tmp = new CliRunner.TempDir();
        var args = extra switch
        {
            ["SWAP-GENERATOR"] => ArgsWith(Tokenizer, Tokenizer, tmp["x.png"]), // a tokenizer file given as the generator
            ["SWAP-TOKENIZER"] => ArgsWith(Generator, Generator, tmp["x.png"]), // a generator file given as the tokenizer
            _ => Args(tmp["x.png"], extra),
        };
        CliRunner.AssertFailsWithOneLine(args, expected);
        Assert.False(File.Exists(tmp["x.png"]));
    }
}
