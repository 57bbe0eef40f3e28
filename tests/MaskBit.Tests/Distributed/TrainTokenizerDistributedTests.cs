using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using MaskBit.Tests.Training;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Distributed;

/// <summary>
/// <c>mpirun -np 2 maskbit train-tokenizer</c> with 2 images per process computes what one process computes with 4:
/// the discriminator active from step 1, the entropy loss's average probability and LeCam's logit means taken over the
/// global batch, the adaptive GAN weight (<c>adopt_weight</c>) from the global gradients; over shared memory and TCP.
/// <para>
/// How close: Stage I in float32 is sensitive to the order of sums. The same single process with 2 torch threads
/// instead of 1 moves many tensors by more than 1e-5 (relative) after 3 steps (87 of 341 in one measurement with
/// AdamW's default epsilon). So every tensor of the model,
/// EMA, discriminator (with LeCam's buffers) and both optimizers must be within 1e-5 (relative) of the one-process run,
/// or within 4 times that run's own thread-count difference. A real mismatch (a loss over the local rows where the
/// global batch is meant, gradients summed instead of averaged) moves them by orders of magnitude more. AdamW's epsilon
/// is 1e-3, not 1e-8: some parameters have a zero gradient in exact arithmetic (a bias before a per-channel GroupNorm),
/// and a tiny epsilon turns their rounding noise into whole steps of lr.
/// </para>
/// </summary>
[Trait("Category", "Distributed")]
public class TrainTokenizerDistributedTests
{
    static readonly string[] Files = [TrainingFiles.Model, TrainingFiles.EmaModel, TrainingFiles.LossModule, TrainingFiles.Optimizer, TrainingFiles.DiscriminatorOptimizer];

    static string[] Args(CliRunner.TempDir tmp, string output, int perProcess, int threads = 1) =>
        ["train-tokenizer", "-c", Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml"), "-o", output, "--threads", $"{threads}",
         .. new[]
         {
             $"dataset.params.train_shards_path_or_url=fashion-mnist:{tmp["fmnist"]}", $"dataset.params.eval_shards_path_or_url=fashion-mnist:{tmp["fmnist"]}",
             "dataset.params.num_workers_per_gpu=1", "losses.perceptual_loss=none", "losses.discriminator_start=1",
             "losses.discriminator_gradient_penalty=adopt_weight", "lr_scheduler.params.warmup_steps=1",
             $"training.per_gpu_batch_size={perProcess}", "training.max_train_steps=3", "experiment.save_every=3", "optimizer.params.epsilon=1e-3", "optimizer.params.epsilon=1e-3",
             "experiment.eval_every=1000", "experiment.generate_every=1000", "experiment.log_every=1",
         }.SelectMany(s => new[] { "--set", s })];

    [MpiFact]
    public void TwoProcessesComputeWhatOneComputesOnTheWholeBatch()
    {
        using var tmp = new CliRunner.TempDir();
        DataFixtures.FashionMnistFolder(tmp["fmnist"], 16, 8);
        var (code, _, stderr) = MpiRunner.RunSingle(Args(tmp, tmp["one"], 4));
        Assert.True(code == 0, stderr);
        (code, _, stderr) = MpiRunner.RunSingle(Args(tmp, tmp["one-2-threads"], 4, threads: 2));
        Assert.True(code == 0, stderr);
        var reference = Path.Combine(tmp["one"], "checkpoint-3");
        using var scope = NewDisposeScope();
        var noise = Differences(reference, Path.Combine(tmp["one-2-threads"], "checkpoint-3"));
        foreach (var (name, mca) in new[] { ("shm", Array.Empty<string>()), ("tcp", ["btl", "tcp,self"]) })
        {
            (code, _, stderr) = MpiRunner.Run(2, Args(tmp, tmp[name], 2), mca);
            Assert.True(code == 0, $"{name}: {stderr}");
            var log = File.ReadAllText(Path.Combine(tmp[name], RunFolder.LogFile));
            Assert.Contains("batch 2 x 2 processes = 4", log);
            Assert.Contains("disc", log); // the discriminator trained
            var bad = Differences(reference, Path.Combine(tmp[name], "checkpoint-3"))
                .Where(d => d.Value.Diff > Math.Max(1e-5 * d.Value.Norm, 4 * noise[d.Key].Diff))
                .Select(d => $"{d.Key} {d.Value.Diff:E2} (norm {d.Value.Norm:E2}, threads {noise[d.Key].Diff:E2})").ToList();
            Assert.True(bad.Count == 0, $"{name}: {bad.Count} of {noise.Count} tensors differ: {string.Join("; ", bad.Take(10))}");
        }
    }

    /// <summary>Per tensor of the checkpoints' files: the norm of the difference and of the first's tensor.</summary>
    static Dictionary<string, (double Diff, double Norm)> Differences(string expected, string actual)
    {
        var x = CheckpointComparison.Read(expected, Files);
        var y = CheckpointComparison.Read(actual, Files);
        Assert.Equal(x.Keys.Order(), y.Keys.Order());
        return x.ToDictionary(kv => kv.Key, kv => ((kv.Value.to(float64) - y[kv.Key].to(float64)).norm().item<double>(), kv.Value.to(float64).norm().item<double>()));
    }
}
