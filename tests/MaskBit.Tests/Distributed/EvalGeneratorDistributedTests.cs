using MaskBit.Evaluation;
using static TorchSharp.torch;

namespace MaskBit.Tests.Distributed;

/// <summary><c>mpirun -np 2 maskbit eval-generator</c>: rank r samples shard r/2, rank 0 merges; the same samples and
/// metrics as one process, over shared memory and over TCP.</summary>
[Trait("Category", "Distributed")]
public class EvalGeneratorDistributedTests
{
    static string[] Args(string output, params string[] extra) =>
        ["eval-generator", "-c", Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml"),
         "--tokenizer", Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin"),
         "-g", Path.Combine(Golden.RepoCopy, "generator_lfqbert_small", "model.bin"), "-o", output,
         "--classes", "3", "7", "-n", "2", "--seed", "5", "--set", "model.mlm_model.num_steps=2",
         // One torch thread in every process: convolutions sum in another order with more threads.
         "--threads", "1", .. extra];

    static string JsonLine(string stdout) => stdout.Split('\n').Last(l => l.StartsWith('{'));

    [MpiFact]
    public void TwoRanksGiveExactlyTheOneProcessSamplesAndMetrics()
    {
        using var tmp = new Cli.CliRunner.TempDir();
        var env = new Dictionary<string, string> { ["MASKBIT_WEIGHTS"] = tmp["no-weights"] }; // no Inception here either way
        var (code, stdout, stderr) = MpiRunner.RunSingle(["fid-stats", Path.Combine(Golden.RepoRoot, "tests", "fixtures", "fashion-mnist-test"),
            "--resolution", "32", "--network", "resnet18", "-o", tmp["ref18.npz"], "--threads", "1"], env);
        Assert.True(code == 0, stderr);
        (code, stdout, stderr) = MpiRunner.RunSingle(Args(tmp["one"], "--ref-stats-resnet18", tmp["ref18.npz"]), env);
        Assert.True(code == 0, stderr);
        var single = JsonLine(stdout);
        Assert.Contains("FD_ResNet18", single);

        foreach (var (name, mca) in new[] { ("shm", Array.Empty<string>()), ("tcp", ["btl", "tcp,self"]) })
        {
            (code, stdout, stderr) = MpiRunner.Run(2, Args(tmp[name], "--ref-stats-resnet18", tmp["ref18.npz"]), mca, env);
            Assert.True(code == 0, $"{name}: {stderr}");
            Assert.Equal(single, JsonLine(stdout));
            Assert.Single(stdout.Split('\n'), l => l.StartsWith('{')); // rank 0 alone reports
            Assert.True(File.Exists(Path.Combine(tmp[name], "state-1of2.npz")), "rank 1 did not run shard 1/2");
            using var a = Npz.Read(Path.Combine(tmp["one"], "samples.npz"))["arr_0"];
            using var b = Npz.Read(Path.Combine(tmp[name], "samples.npz"))["arr_0"];
            Assert.True(a.equal(b).all().item<bool>(), $"{name}: the ranks' samples differ from the single process's");
        }

        // Both ways of splitting at once are refused, and the failing ranks end the job with a one-line error.
        (code, _, stderr) = MpiRunner.Run(2, Args(tmp["both"], "--shard", "0/2"), env: env);
        Assert.NotEqual(0, code);
        Assert.Contains("maskbit: error: --shard and the launcher's 2 processes both split the work", stderr);
    }
}
