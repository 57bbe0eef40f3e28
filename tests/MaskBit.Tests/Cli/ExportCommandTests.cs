using MaskBit.Pipeline;

namespace MaskBit.Tests.Cli;

/// <summary><c>maskbit export</c> and the <c>--model</c> option of the other commands.</summary>
public class ExportCommandTests
{
    static string Config => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
    static string Tokenizer => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");
    static string Generator => Path.Combine(Golden.RepoCopy, "generator_lfqbert_small", "model.bin");

    static string Export(CliRunner.TempDir tmp, params string[] extra)
    {
        var (code, stdout, stderr) = CliRunner.Run(["export", "-c", Config, "--tokenizer", Tokenizer, "-g", Generator, "-o", tmp["model"], .. extra]);
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote model folder", stdout);
        return tmp["model"];
    }

    [Fact]
    public void GenerateWithTheModelFolderGivesTheSameBytesAsWithTheThreeFiles()
    {
        using var tmp = new CliRunner.TempDir();
        var model = Export(tmp);
        string[] common = ["--classes", "207", "goldfish", "-n", "2", "--steps", "3", "--seed", "11"];
        var (c1, _, e1) = CliRunner.Run(["generate", "--model", model, "-o", tmp["a.png"], .. common]);
        Assert.True(c1 == 0, e1);
        var (c2, _, e2) = CliRunner.Run(["generate", "-c", Config, "--tokenizer", Tokenizer, "-g", Generator, "-o", tmp["b.png"], .. common]);
        Assert.True(c2 == 0, e2);
        Assert.Equal(File.ReadAllBytes(tmp["b.png"]), File.ReadAllBytes(tmp["a.png"]));
    }

    [Fact]
    public void ReconstructAndTokenizeTakeTheModelFolderToo()
    {
        using var tmp = new CliRunner.TempDir();
        var model = Export(tmp);
        var image = Path.Combine(Golden.RepoRoot, "tests", "fixtures", "images", "input.png");
        var (code, stdout, stderr) = CliRunner.Run("reconstruct", "--model", model, image, "-o", tmp["out"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("PSNR", stdout);
        Assert.Equal(0, CliRunner.Run("tokenize", "--model", model, image, "-o", tmp["t.safetensors"]).code);
        Assert.Equal(new long[] { 1, 64 }, MaskBit.Data.TokenFile.Read(tmp["t.safetensors"]).Tokens.shape);
    }

    [Fact]
    public void ExportWithAClassFileAndCardKeepsThem()
    {
        using var tmp = new CliRunner.TempDir();
        File.WriteAllLines(tmp["classes.txt"], Enumerable.Range(0, 1000).Select(i => $"c{i}"));
        File.WriteAllText(tmp["card.md"], "# my model\n");
        var model = Export(tmp, "--classes-file", tmp["classes.txt"], "--card", tmp["card.md"]);
        Assert.Equal("# my model\n", File.ReadAllText(Path.Combine(model, ModelFolder.CardFile)));
        var (code, stdout, stderr) = CliRunner.Run("generate", "--model", model, "--classes", "c5", "-n", "1", "--steps", "2", "-o", tmp["g.png"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("5 c5", stdout);
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "model+config", "--model names a complete model" },
        { "weights-without-config", "weight files need --config" }, // with no model arguments at all, the bundled model
        { "broken", "model folder has no tokenizer.safetensors" },
        { "export-exists", "folder exists and is not empty" },
        { "export-no-generator-config", "needs a model.mlm_model section" },
    };

    [Theory, MemberData(nameof(BadInputs))]
    public void BadInputIsOneLineAndNonZeroExit(string kind, string expected)
    {
        using var tmp = new CliRunner.TempDir();
        string[] args = kind switch
        {
            "model+config" => ["generate", "--model", Export(tmp), "-c", Config, "-o", tmp["x.png"]],
            "weights-without-config" => ["generate", "--tokenizer", Tokenizer, "-g", Generator, "-o", tmp["x.png"]],
            "broken" => Broken(tmp),
            "export-exists" => ["export", "-c", Config, "--tokenizer", Tokenizer, "-g", Generator, "-o", Export(tmp)],
            _ => ["export", "-c", Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml"), "--tokenizer", Tokenizer, "-g", Generator, "-o", tmp["other"]],
        };
        CliRunner.AssertFailsWithOneLine(args, expected);
        Assert.False(File.Exists(tmp["x.png"]));
        Assert.False(Directory.Exists(tmp["other"]));
    }

    static string[] Broken(CliRunner.TempDir tmp)
    {
        var model = Export(tmp);
        File.Delete(Path.Combine(model, ModelFolder.TokenizerFile));
        return ["generate", "--model", model, "-o", tmp["x.png"]];
    }
}
