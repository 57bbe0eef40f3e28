using MaskBit.Imaging;
namespace MaskBit.Tests.Cli;

/// <summary>The benchmark command runs end to end (its numbers are read by people, not asserted).</summary>
public class BenchCommandTests
{
    [Fact]
    public void BenchRunsOnATinyConfigAndReportsTimeAndMemory()
    {
        var config = Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
        using var tmp = new CliRunner.TempDir();
        var curve = tmp["memory.png"];
        var (code, stdout, stderr) = CliRunner.Run("bench", "-c", config, "--steps", "2", "--batch-size", "2", "--repeats", "2", "--json", "--memory-curve", curve);
        Assert.True(code == 0, stderr);
        using var json = System.Text.Json.JsonDocument.Parse(stdout.Split('\n').Last(l => l.StartsWith('{')));
        foreach (var key in new[] { "generator_s_per_image_step", "decode_s_per_image", "tokenizer_encode_s_per_image", "tokenizer_decode_s_per_image", "matmul_gflops", "libtorch_matmul_gflops", "generator_gflops" })
            Assert.True(json.RootElement.GetProperty(key).GetDouble() > 0, key);
        // The memory curve: a PNG and a CSV with the resident memory before the first step and after each of the 2.
        Assert.Equal((720, 400), (MaskBit.Imaging.Images.Read(curve).Width, MaskBit.Imaging.Images.Read(curve).Height));
        var rows = File.ReadAllLines(Path.ChangeExtension(curve, ".csv"));
        Assert.Equal(["step,resident_mib,seconds", "0", "1", "2"], rows.Select((r, i) => i == 0 ? r : r.Split(',')[0]));
        Assert.All(rows.Skip(1), r => Assert.True(long.Parse(r.Split(',')[1]) > 0, r));
        Assert.All(rows.Skip(2), r => Assert.True(double.Parse(r.Split(',')[2], System.Globalization.CultureInfo.InvariantCulture) > 0, r)); // step times
        Assert.True(json.RootElement.GetProperty("peak_rss_mib").GetInt64() > 0);
        Assert.True(json.RootElement.GetProperty("threads").GetInt32() >= 1);
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("cpu").GetString()));
        Assert.Equal(MaskBit.Native.Blas.Backend, json.RootElement.GetProperty("blas").GetString());
        Assert.Contains("sampling, s per image", stdout);
        Assert.Contains("peak resident memory", stdout);
        Assert.Contains("2, 2 (guidance", stdout);
        Assert.Equal(1, CliRunner.Run("bench", "-c", config, "--steps", "0").code);
    }

    [Fact]
    public void ThreadsIsAnOptionOfEveryCommand()
    {
        var config = Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
        int before = TorchSharp.torch.get_num_threads();
        try
        {
            var (code, stdout, stderr) = CliRunner.Run("bench", "-c", config, "--steps", "1", "--threads", "1", "--json");
            Assert.True(code == 0, stderr);
            using var json = System.Text.Json.JsonDocument.Parse(stdout.Split('\n').Last(l => l.StartsWith('{')));
            Assert.Equal(1, json.RootElement.GetProperty("threads").GetInt32());
        }
        finally { TorchSharp.torch.set_num_threads(before); }
        CliRunner.AssertFailsWithOneLine(["--threads", "0", "generate", "-n", "1"], "--threads");
        CliRunner.AssertFailsWithOneLine(["reconstruct", "--threads", "0", "x.png"], "--threads"); // after the command too
        Assert.Equal(before, TorchSharp.torch.get_num_threads()); // a refused value changes nothing
    }

    [Fact]
    public void TheDefaultConfigShipsWithTheCommandAndTakesOverrides()
    {
        // No --config: the official 14-bit config next to the executable, shrunk with --set so it runs in seconds.
        var (code, stdout, stderr) = CliRunner.Run("bench", "--steps", "1",
            "--set", "model.mlm_model.depth=1", "--set", "model.mlm_model.hidden_dim=32", "--set", "model.mlm_model.mlp_dim=32",
            "--set", "model.mlm_model.heads=2", "--set", "model.vq_model.hidden_channels=32", "--set", "model.vq_model.channel_mult=[1,1,1,1,1]",
            "--set", "model.vq_model.num_res_blocks=1", "--set", "dataset.preprocessing.resolution=32");
        Assert.True(code == 0, stderr);
        Assert.Contains("maskbit_generator_14bit.yaml", stdout);
        Assert.Equal(1, CliRunner.Run("bench", "--set", "model.mlm_model.dept=1").code);
    }

    [Fact]
    public void BenchTimesATokenizerTrainingStep()
    {
        var config = Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml");
        var (code, stdout, stderr) = CliRunner.Run("bench", "--train-tokenizer", "-c", config, "--set", "losses.perceptual_loss=none",
            "--steps", "1", "--batch-size", "1");
        Assert.True(code == 0, stderr);
        Assert.Contains("steps/s", stdout);
        Assert.Contains("605,357", stdout);
        Assert.Equal(1, CliRunner.Run("bench", "--train-tokenizer", "-c", Path.Combine(Golden.RepoRoot, "configs", "demo", "demo.yaml")).code);
    }

    [Fact]
    public void BenchTimesAGeneratorTrainingStepWithAJsonLine()
    {
        var config = Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
        var (code, stdout, stderr) = CliRunner.Run("bench", "--train-generator", "-c", config, "--steps", "2", "--batch-size", "2", "--json");
        Assert.True(code == 0, stderr);
        using var json = System.Text.Json.JsonDocument.Parse(stdout.Split('\n').Last(l => l.StartsWith('{')));
        Assert.Equal("generator", json.RootElement.GetProperty("stage").GetString());
        Assert.True(json.RootElement.GetProperty("train_generator_steps_per_s").GetDouble() > 0);
        Assert.Equal(2 * json.RootElement.GetProperty("train_generator_steps_per_s").GetDouble(), json.RootElement.GetProperty("train_images_per_s").GetDouble(), 6);
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("cpu").GetString()));
        CliRunner.AssertFailsWithOneLine(["bench", "--train-generator", "-c", Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml")], "model.mlm_model");
    }
}
