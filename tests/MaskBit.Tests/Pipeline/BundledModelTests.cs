using System.Text.Json;
using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Evaluation;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Pipeline;
using MaskBit.Tests.Cli;
using MaskBit.Tokenizer;

namespace MaskBit.Tests.Pipeline;

/// <summary>
/// The models the project trained and ships under <c>models/</c>: the Fashion-MNIST MaskBit that a bare
/// <c>maskbit generate</c> uses, and the classifier of <c>maskbit score</c>.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class BundledModelTests
{
    static string Models => Path.Combine(Golden.RepoRoot, "models");
    static string ModelDir => Path.Combine(Models, "fmnist");
    static string RealTestImages => Path.Combine(Golden.RepoRoot, "tests", "fixtures", "fashion-mnist-test");

    [Fact]
    public void BundledWeightsMatchTheKeysAndShapesTheirConfigDescribesAndFitTheBudget()
    {
        var config = ConfigLoader.Load(Path.Combine(ModelDir, ModelFolder.ConfigFile));
        var vq = config.Model!.VqModel!;
        var classes = ClassNames.Read(Path.Combine(ModelDir, ModelFolder.ClassesFile));
        Assert.Equal(IdxDataset.FashionMnistClasses, classes.Entries.Select(e => e.Split(',')[0]));
        int size = config.Dataset!.Preprocessing!.Resolution;
        using var tokenizer = TokenizerFactory.Create(vq).Module;
        using var generator = GeneratorFactory.Create(config.Model.MlmModel!, vq.EffectiveCodebookSize, size, vq.DownsamplingFactor, classes.Count);
        AssertSameEntries(tokenizer, Path.Combine(ModelDir, ModelFolder.TokenizerFile), new Dictionary<string, string>());
        AssertSameEntries(generator, Path.Combine(ModelDir, ModelFolder.GeneratorFile), new Dictionary<string, string> { ["input_proj"] = "token_emb" });

        using var pipeline = MaskBitPipeline.FromFolder(ModelDir); // digests checked, strict load
        Assert.Equal(10, pipeline.Classes.Count);
        using var classifier = ClassifierFolder.Load(Path.Combine(Models, "fmnist-classifier"));
        Assert.Equal(pipeline.Classes.Entries, classifier.Classes.Entries);

        long bytes = Directory.EnumerateFiles(Models, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 40_000_000, $"models/ holds {bytes:N0} bytes, the budget is 40 MB");
    }

    // Every key of the file with the shape the config's module has, and nothing else.
    static void AssertSameEntries(TorchSharp.torch.nn.Module module, string path, Dictionary<string, string> rename)
    {
        var (tensors, _) = Checkpoint.ReadSafeTensors(path);
        try
        {
            var expected = Checkpoint.StateDict(module).ToDictionary(e => Checkpoint.RenameKey(e.Key, rename), e => e.Tensor.shape);
            Assert.Equal(expected.Keys.Order(), tensors.Keys.Order());
            foreach (var (key, t) in tensors) Assert.True(expected[key].SequenceEqual(t.shape), $"{path}: {key}");
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    [Fact]
    public void BareGenerateUsesTheBundledModelAndAFixedSeedGivesTheSameBytes()
    {
        using var tmp = new CliRunner.TempDir();
        var (code, stdout, stderr) = CliRunner.Run("generate", "-o", tmp["a.png"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote 40 image(s) of 10 class(es) (0 T-shirt/top, 1 Trouser", stdout);
        var grid = Images.Read(tmp["a.png"]);
        Assert.Equal(10 * 32, grid.Height); // a row per class, 32x32 samples
        Assert.Equal(BitmapFont.Measure("T-shirt/top", 1) + 4 + 4 * 32, grid.Width); // the longest label's margin, then 4 samples

        Assert.Equal(0, CliRunner.Run("generate", "-o", tmp["b.png"]).code);
        Assert.Equal(File.ReadAllBytes(tmp["a.png"]), File.ReadAllBytes(tmp["b.png"]));

        (code, _, stderr) = CliRunner.Run("generate", "--classes", "sneaker", "7", "-n", "2", "--seed", "3", "-o", tmp["c.png"], "--save-individual", tmp["each"]);
        Assert.True(code == 0, stderr);
        Assert.Equal(["0000_007_Sneaker.png", "0001_007_Sneaker.png", "0002_007_Sneaker.png", "0003_007_Sneaker.png"],
            Directory.GetFiles(tmp["each"]).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void BareReconstructUsesTheBundledTokenizer()
    {
        using var tmp = new CliRunner.TempDir();
        var (code, stdout, stderr) = CliRunner.Run("reconstruct", Path.Combine(RealTestImages, "7"), "-o", tmp["r"]);
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{')));
        Assert.True(json.RootElement.GetProperty("PSNR").GetDouble() > 20, stdout); // the model card's test PSNR is 24 dB
        Assert.Equal(20, Directory.GetFiles(tmp["r"], "*.png").Length);
    }

    [Fact]
    public void ScoreClassifiesRealTestImagesAtLeastNinetyPercentRight()
    {
        var (code, stdout, stderr) = CliRunner.Run("score", RealTestImages, "--reference", RealTestImages, "--floor-data", RealTestImages, "--json");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{')));
        Assert.Equal(200, json.RootElement.GetProperty("samples").GetInt32());
        Assert.True(json.RootElement.GetProperty("accuracy").GetDouble() >= 0.9, stdout);
        Assert.InRange(json.RootElement.GetProperty("floor").GetDouble(), -1e-3, 1e-3); // the floor's real images are the reference itself
    }
}
