using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Imaging;
using MaskBit.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Cli;

/// <summary>End-to-end runs of reconstruct / tokenize / detokenize on the original's golden checkpoint (case A).</summary>
public class TokenizerCommandsTests
{
    static string Config => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml");
    static string Model => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");

    static void WriteImage(string path, int w, int h, int seed)
    {
        using var scope = NewDisposeScope();
        Images.Save(path, rand([3, h, w], generator: new Generator(1).manual_seed(seed)));
    }

    [Fact]
    public void ReconstructWritesSideBySidePngsAndPrintsMetrics()
    {
        using var tmp = new CliRunner.TempDir();
        WriteImage(tmp["a.png"], 48, 40, 1); // not square: resized (shorter side 32) and centre-cropped to 32x32
        WriteImage(tmp["b.png"], 32, 32, 2);
        var (code, stdout, stderr) = CliRunner.Run("reconstruct", "-c", Config, "--checkpoint", Model,
            tmp["a.png"], tmp["b.png"], "-o", tmp["out"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("PSNR", stdout);
        Assert.Contains("mean", stdout);
        var summary = System.Text.Json.JsonDocument.Parse(stdout.Split('\n').Last(l => l.StartsWith("{\"MAE\"")));
        Assert.InRange(summary.RootElement.GetProperty("SSIM").GetDouble(), -1, 1);
        Assert.InRange(summary.RootElement.GetProperty("CodebookUsage").GetDouble(), 1.0 / 1024, 128.0 / 1024); // 2 images x 64 tokens
        foreach (var name in new[] { "a_recon.png", "b_recon.png" })
        {
            var img = Images.Read(Path.Combine(tmp["out"], name));
            Assert.Equal(3 * 32, img.Width); // three panels edge to edge, as the original's strips
            Assert.Equal(32, img.Height);
        }
    }

    [Fact]
    public void TokenizeThenDetokenizeGivesTheTokenizersDecode()
    {
        using var tmp = new CliRunner.TempDir();
        WriteImage(tmp["x.png"], 32, 32, 3);
        var (code, _, stderr) = CliRunner.Run("tokenize", "-c", Config, "--checkpoint", Model, tmp["x.png"], "-o", tmp["t.safetensors"]);
        Assert.True(code == 0, stderr);
        var file = TokenFile.Read(tmp["t.safetensors"]);
        Assert.Equal(new long[] { 1, 64 }, file.Tokens.shape);
        Assert.Equal(8, file.GridSize);
        Assert.Equal(1024, file.CodebookSize);

        using var scope = NewDisposeScope();
        var tokenizer = TokenizerFactory.Load(ConfigLoader.Load(Config).Model!.VqModel!, Model);
        using var noGrad = no_grad();
        var x = Images.Load(tmp["x.png"]).unsqueeze(0);
        Assert.True(tokenizer.Tokenize(x).eq(file.Tokens).all().item<bool>());

        (code, var _, stderr) = CliRunner.Run("detokenize", "-c", Config, "--checkpoint", Model, tmp["t.safetensors"], "-o", tmp["dec"]);
        Assert.True(code == 0, stderr);
        var decoded = Images.Load(Path.Combine(tmp["dec"], "00000_x.png"));
        var expected = RgbImage.FromTensor(tokenizer.DecodeTokens(file.Tokens)[0]).ToTensor();
        Assert.True(decoded.eq(expected).all().item<bool>());
    }

    [Fact]
    public void TextTokenFilesRoundTrip()
    {
        using var tmp = new CliRunner.TempDir();
        WriteImage(tmp["x.png"], 32, 32, 4);
        var (code, _, stderr) = CliRunner.Run("tokenize", "-c", Config, "--checkpoint", Model, tmp["x.png"], "-o", tmp["t.txt"]);
        Assert.True(code == 0, stderr);
        var (code2, _, _) = CliRunner.Run("tokenize", "-c", Config, "--checkpoint", Model, tmp["x.png"], "-o", tmp["t.safetensors"]);
        Assert.Equal(0, code2);
        Assert.True(TokenFile.Read(tmp["t.txt"]).Tokens.eq(TokenFile.Read(tmp["t.safetensors"]).Tokens).all().item<bool>());
    }

    public static TheoryData<string, string[]> BadInputs => new()
    {
        { "no such file", ["reconstruct", "-c", Config, "--checkpoint", Model, "/nonexistent/img.png"] },
        { "config", ["reconstruct", "-c", "/nonexistent/config.yaml", "--checkpoint", Model, "IMG"] },
        { "not a PyTorch or safetensors checkpoint", ["reconstruct", "-c", Config, "--checkpoint", "TEXTFILE", "IMG"] },
        { "shape", ["reconstruct", "-c", Config, "--checkpoint", Model, "--set", "model.vq_model.token_size=12", "IMG"] },
        { "missing", ["reconstruct", "-c", Config, "--checkpoint", Model, "--set", "model.vq_model.num_res_blocks=2", "IMG"] },
        { "token_siz", ["reconstruct", "-c", Config, "--checkpoint", Model, "--set", "model.vq_model.token_siz=12", "IMG"] },
        { "model.vq_model.token_size", ["reconstruct", "config=" + Config, "--checkpoint", Model, "model.vq_model.token_sise=12", "IMG"] },
        { "has shape", ["reconstruct", "config=" + Config, "--checkpoint", Model, "model.vq_model.token_size=12", "IMG"] },
        { "BADIMG", ["reconstruct", "-c", Config, "--checkpoint", Model, "BADIMG"] },
        { "--batch-size", ["reconstruct", "-c", Config, "--checkpoint", Model, "--batch-size", "0", "IMG"] },
        { "Required argument", ["reconstruct", "-c", Config] },
        { "reconstrut", ["reconstrut"] },
        { "codebook of 4096", ["detokenize", "-c", Config, "--checkpoint", Model, "TOKENS"] },
        { "expected a source, a tab and 64 indices", ["detokenize", "-c", Config, "--checkpoint", Model, "BADTOKENS"] },
    };

    [Theory, MemberData(nameof(BadInputs))]
    public void BadInputEndsWithOneLineErrorAndNonZeroExit(string expectedInMessage, string[] args)
    {
        using var tmp = new CliRunner.TempDir();
        WriteImage(tmp["ok.png"], 32, 32, 5);
        File.WriteAllText(tmp["notes.txt"], "this is not a checkpoint\n");
        File.WriteAllBytes(tmp["bad.png"], [0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
        var indices = string.Join(' ', Enumerable.Range(0, 64));
        File.WriteAllText(tmp["tokens.txt"], $"# maskbit-tokens grid=8 codebook=4096\nok.png\t{indices}\n");
        File.WriteAllText(tmp["bad.txt"], $"# maskbit-tokens grid=8 codebook=1024\nok.png\t{indices} 1\n");
        var resolved = args.Select(a => a switch
        {
            "IMG" => tmp["ok.png"], "TEXTFILE" => tmp["notes.txt"], "BADIMG" => tmp["bad.png"], "TOKENS" => tmp["tokens.txt"], "BADTOKENS" => tmp["bad.txt"], _ => a,
        }).ToArray();
        if (expectedInMessage == "BADIMG") expectedInMessage = "bad.png";
        CliRunner.AssertFailsWithOneLine(resolved, expectedInMessage);
    }
}
