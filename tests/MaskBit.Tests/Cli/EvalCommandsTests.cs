using System.Text.Json;
using MaskBit.Evaluation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Cli;

/// <summary>
/// End-to-end eval-tokenizer / fid-stats / eval-generator / eval-merge on the golden tiny models. The pretrained metric
/// networks cannot be shipped, so randomly initialised ones are written in the users' file formats (torchvision keys
/// for VGG16, the LPIPS lin file, the pytorch-fid Inception keys). One class: the tests set MASKBIT_WEIGHTS.
/// </summary>
public class EvalCommandsTests
{
    static string TokenizerConfig => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml");
    static string GeneratorConfig => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
    static string Tokenizer => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");
    static string Generator => Path.Combine(Golden.RepoCopy, "generator_lfqbert_small", "model.bin");

    static void WriteImage(string path, int size, int seed)
    {
        using var scope = NewDisposeScope();
        Images.Save(path, rand([3, size, size], generator: new Generator(1).manual_seed(seed)));
    }

    /// <summary>Random-weight metric networks in the files users download.</summary>
    static void WriteWeights(string dir)
    {
        using var scope = NewDisposeScope();
        var inception = new InceptionV3();
        inception.to(float32);
        Checkpoint.Save(inception, Path.Combine(dir, InceptionV3.WeightFileName));
        var lpips = new Lpips();
        var entries = Checkpoint.StateDict(lpips);
        // torchvision names: net.slice{s}.{i}.* -> features.{i}.*, plus a classifier the loader must ignore
        var vgg = entries.Where(e => e.Key.StartsWith("net.", StringComparison.Ordinal))
            .Select(e => KeyValuePair.Create("features." + e.Key.Split('.', 3)[2], e.Tensor))
            .Append(KeyValuePair.Create("classifier.0.weight", zeros(4, 8)));
        Checkpoint.WriteStateDict(Path.Combine(dir, Lpips.VggFileName), vgg);
        Checkpoint.WriteStateDict(Path.Combine(dir, Lpips.LinFileName),
            entries.Where(e => e.Key.StartsWith("lin", StringComparison.Ordinal)).Select(e => KeyValuePair.Create(e.Key, e.Tensor)));
    }

    static Dictionary<string, double> LastJson(string stdout) =>
        JsonDocument.Parse(stdout.Split('\n').Last(l => l.StartsWith('{'))).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());

    [Fact]
    public void EvalTokenizerReportsEveryMetricWithWeightsAndSaysWhatIsMissingWithout()
    {
        using var tmp = new CliRunner.TempDir();
        for (int i = 0; i < 3; i++) WriteImage(tmp[$"val/{i}.png"], 32, i + 1);
        var old = Environment.GetEnvironmentVariable("MASKBIT_WEIGHTS");
        try
        {
            Environment.SetEnvironmentVariable("MASKBIT_WEIGHTS", tmp["none"]);
            var (code, stdout, stderr) = CliRunner.Run("eval-tokenizer", "-c", TokenizerConfig, "--tokenizer", Tokenizer, "--data", tmp["val"], "--batch-size", "2");
            Assert.True(code == 0, stderr);
            Assert.Contains(InceptionV3.WeightFileName, stderr);
            Assert.Contains(tmp["none"], stderr);
            Assert.Contains(Lpips.VggFileName, stderr);
            // FD_ResNet18 (this port's addition, last) whenever the build's NuGet cache holds the CNTK ResNet-18
            string[] fd18 = MaskBit.Networks.ResNet18Cntk.Find() is null ? [] : ["FD_ResNet18"];
            if (fd18.Length == 0) Assert.Contains("FD_ResNet18 skipped", stderr);
            Assert.Equal(["MAE", "MSE", "PSNR", "SSIM", "CodebookUsage", "CodebookEntropy", .. fd18], LastJson(stdout).Keys);

            Directory.CreateDirectory(tmp["w"]);
            WriteWeights(tmp["w"]);
            Environment.SetEnvironmentVariable("MASKBIT_WEIGHTS", tmp["w"]);
            (code, stdout, stderr) = CliRunner.Run("eval-tokenizer", "-c", TokenizerConfig, "--tokenizer", Tokenizer, "--data", tmp["val"], "--batch-size", "2");
            Assert.True(code == 0, stderr);
            var m = LastJson(stdout);
            // the original's result keys and order
            Assert.Equal(["MAE", "MSE", "PSNR", "SSIM", "InceptionScore", "rFID", "LPIPS", "CodebookUsage", "CodebookEntropy", .. fd18], m.Keys);
            Assert.All(m.Values, v => Assert.True(double.IsFinite(v)));
            // random lin weights can be negative, so LPIPS need not be; it must have been measured
            Assert.True(m["LPIPS"] != 0 && m["InceptionScore"] >= 1 - 1e-9, stdout);

            // fid-stats of the same folder: the real images' statistics, in NumPy's layout
            (code, _, stderr) = CliRunner.Run("fid-stats", tmp["val"], "-o", tmp["stats.npz"]);
            Assert.True(code == 0, stderr);
            using var stats = FidStatistics.Load(tmp["stats.npz"]);
            Assert.Equal(2048, stats.Dim);

            // a named file that does not exist is an error, not a skip
            (code, _, stderr) = CliRunner.Run("fid-stats", tmp["val"], "-o", tmp["x.npz"], "--inception", tmp["nope.pth"]);
            Assert.Equal(1, code);
            Assert.Contains("nope.pth does not exist", stderr);
            Environment.SetEnvironmentVariable("MASKBIT_WEIGHTS", tmp["none"]);
            (code, _, stderr) = CliRunner.Run("fid-stats", tmp["val"], "-o", tmp["x.npz"]);
            Assert.Equal(1, code);
            Assert.Contains($"{InceptionV3.WeightFileName} not found", stderr);
            Assert.Single(stderr.Trim().Split('\n'));
        }
        finally { Environment.SetEnvironmentVariable("MASKBIT_WEIGHTS", old); }
    }

    // The arrays, not the file bytes (zip members carry their write time).
    static bool SameBatch(string a, string b) =>
        Npz.Read(Path.Combine(a, "samples.npz"))["arr_0"].equal(Npz.Read(Path.Combine(b, "samples.npz"))["arr_0"]).all().item<bool>();

    static string[] GenArgs(string output, params string[] extra) => GenArgsSeed(output, "5", extra);

    static string[] GenArgsSeed(string output, string seed, params string[] extra) =>
        ["eval-generator", "-c", GeneratorConfig, "--tokenizer", Tokenizer, "-g", Generator, "-o", output,
         "--classes", "3", "7", "-n", "2", "--seed", seed, "--set", "model.mlm_model.num_steps=2", .. extra];

    [Fact]
    public void EvalGeneratorSamplesDoNotDependOnShardingAndRunsResume()
    {
        using var tmp = new CliRunner.TempDir();
        var old = Environment.GetEnvironmentVariable("MASKBIT_WEIGHTS");
        try
        {
            Environment.SetEnvironmentVariable("MASKBIT_WEIGHTS", tmp["none"]);
            var (code, stdout, stderr) = CliRunner.Run(GenArgs(tmp["one"], "--batch-size", "3"));
            Assert.True(code == 0, stderr);
            Assert.Contains("gFID and IS skipped", stderr);
            var single = Directory.GetFiles(Path.Combine(tmp["one"], "samples")).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(4, single.Count);
            // the label protocol: every block of C consecutive samples holds each class once
            var labels = single.Select(f => int.Parse(Path.GetFileNameWithoutExtension(f).Split('_')[1])).ToList();
            Assert.Equal([3, 7], labels.Take(2).Order());
            Assert.Equal([3, 7], labels.Skip(2).Order());
            var batch = Npz.Read(Path.Combine(tmp["one"], "samples.npz"))["arr_0"];
            Assert.Equal(new long[] { 4, 32, 32, 3 }, batch.shape);
            Assert.Equal(uint8, batch.dtype);
            for (int i = 0; i < 4; i++)
                Assert.True(Images.Read(single[i]).ToBytes().permute(1, 2, 0).equal(batch[i]).all().item<bool>(), $"arr_0[{i}] is not {single[i]}");

            // two shards, then merged: the same samples, the same batch
            foreach (var s in new[] { "1/2", "0/2" })
            {
                (code, stdout, stderr) = CliRunner.Run(GenArgs(tmp["two"], "--shard", s));
                Assert.True(code == 0, stderr);
            }
            Assert.Contains("eval-merge", stdout);
            (code, _, stderr) = CliRunner.Run("eval-merge", tmp["two"]);
            Assert.True(code == 0, stderr);
            Assert.True(SameBatch(tmp["one"], tmp["two"]), "sharded samples differ from the single run's");

            // a run stopped after 1 sample continues there and ends with the same files
            var state = Npz.Read(Path.Combine(tmp["one"], "state-0of1.npz"));
            state["next"] = tensor(1L);
            Npz.Write(Path.Combine(tmp["one"], "state-0of1.npz"), state);
            foreach (var f in single.Skip(1)) File.Delete(f);
            (code, stdout, stderr) = CliRunner.Run(GenArgs(tmp["one"]));
            Assert.True(code == 0, stderr);
            Assert.Contains("resuming shard 0/1 at sample 1", stdout);
            Assert.True(SameBatch(tmp["one"], tmp["two"]), "resumed samples differ");

            // other settings on the same folder are refused; an unfinished shard cannot be merged
            (code, _, stderr) = CliRunner.Run(GenArgsSeed(tmp["one"], "6"));
            Assert.Equal(1, code);
            Assert.Contains("other settings", stderr);
            (code, _, _) = CliRunner.Run(GenArgs(tmp["three"], "--shard", "0/2"));
            Assert.Equal(0, code);
            (code, _, stderr) = CliRunner.Run("eval-merge", tmp["three"]);
            Assert.Equal(1, code);
            Assert.Contains("shard 1/2 has not run", stderr);
        }
        finally { Environment.SetEnvironmentVariable("MASKBIT_WEIGHTS", old); }
    }
}
