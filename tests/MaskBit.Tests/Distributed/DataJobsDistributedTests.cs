using System.Text.Json;
using MaskBit.Evaluation;
using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using static TorchSharp.torch;

namespace MaskBit.Tests.Distributed;

/// <summary>
/// <c>pretokenize</c>, <c>fid-stats</c> and <c>eval-tokenizer</c> under <c>mpirun -np 2</c>: each rank does its part
/// of the images and rank 0 writes or reports what one process does: the same token cache, bit for bit; statistics
/// and metrics equal up to the order of float64 sums (1e-9, relative).
/// </summary>
[Trait("Category", "Distributed")]
public class DataJobsDistributedTests
{
    static string Config => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
    static string Tokenizer => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");

    [MpiFact]
    public void TwoRanksWriteTheOneProcessCacheStatisticsAndMetrics()
    {
        using var tmp = new CliRunner.TempDir();
        DataFixtures.FashionMnistFolder(tmp["fmnist"], 300, 8); // 2 rounds of batches in one process (64 x 4 = 256 a round), 1 in two, short last batches
        var env = new Dictionary<string, string> { ["MASKBIT_WEIGHTS"] = tmp["no-weights"] };
        string[] Pretokenize(string o) => ["pretokenize", "-c", Config, "--tokenizer", Tokenizer, "--data", $"fashion-mnist:{tmp["fmnist"]}", "--flip", "-o", o, "--threads", "1"];
        Run(1, Pretokenize(tmp["cache1"]), env);
        Run(2, Pretokenize(tmp["cache2"]), env);
        var shards = Directory.GetFiles(tmp["cache1"], "*.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(shards, Directory.GetFiles(tmp["cache2"], "*.safetensors").Select(Path.GetFileName).Order());
        foreach (var s in shards)
            Assert.True(File.ReadAllBytes(Path.Combine(tmp["cache1"], s!)).SequenceEqual(File.ReadAllBytes(Path.Combine(tmp["cache2"], s!))), $"{s} differs");

        var images = Path.Combine(Golden.RepoRoot, "tests", "fixtures", "fashion-mnist-test");
        string[] Stats(string o) => ["fid-stats", images, "--resolution", "32", "--network", "resnet18", "-o", o, "--threads", "1"];
        Run(1, Stats(tmp["s1.npz"]), env);
        Run(2, Stats(tmp["s2.npz"]), env);
        foreach (var key in new[] { "mu", "sigma" })
        {
            using var a = Npz.Read(tmp["s1.npz"])[key];
            using var b = Npz.Read(tmp["s2.npz"])[key];
            Assert.True(a.allclose(b, rtol: 1e-9, atol: 1e-12), $"fid-stats {key} differs");
        }

        string[] Eval() => ["eval-tokenizer", "-c", Config, "--tokenizer", Tokenizer, "--data", images, "--batch-size", "4", "--threads", "1"];
        var one = JsonLine(Run(1, Eval(), env));
        var two = JsonLine(Run(2, Eval(), env));
        Assert.Equal(one.Keys.Order(), two.Keys.Order());
        Assert.Contains("FD_ResNet18", one.Keys);
        foreach (var (k, v) in one) Assert.True(Math.Abs(v - two[k]) <= 1e-9 * Math.Max(Math.Abs(v), 1e-12), $"eval-tokenizer {k}: {v} vs {two[k]}");
    }

    static string Run(int ranks, string[] args, Dictionary<string, string> env)
    {
        var (code, stdout, stderr) = ranks == 1 ? MpiRunner.RunSingle(args, env) : MpiRunner.Run(ranks, args, env: env);
        Assert.True(code == 0, $"{args[0]} x {ranks}: {stderr}");
        return stdout;
    }

    static Dictionary<string, double> JsonLine(string stdout)
    {
        using var doc = JsonDocument.Parse(stdout.Split('\n').Last(l => l.StartsWith('{')));
        return doc.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number).ToDictionary(p => p.Name, p => p.Value.GetDouble());
    }
}
