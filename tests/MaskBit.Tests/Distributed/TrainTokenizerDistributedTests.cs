using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using MaskBit.Tests.Training;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Distributed;

/// <summary>
/// <c>mpirun -np 2 maskbit train-tokenizer</c> with 2 images per process computes what one process computes with 4:
/// the discriminator active (its first update at step 2), the entropy loss's average probability and LeCam's logit
/// means taken over the global batch, the adaptive GAN weight (<c>adopt_weight</c>) from the global gradients. Every
/// tensor of the model, EMA, discriminator (with LeCam's buffers) and both optimizers after 2 steps agrees within 1e-5
/// (relative), over shared memory and TCP, but two: the optimizer moments of <see cref="ZeroGradient"/>, a bias whose
/// gradient is zero in exact arithmetic (it feeds a GroupNorm with one channel per group, which removes any constant),
/// so that its moments are rounding noise (norm ~1e-9), as different between 1 and 2 threads of one process as here.
/// Later steps grow such noise (AdamW turns it into steps of lr), so the run is kept to 2 steps; AdamW's epsilon is
/// 1e-3 so that the first step does not already. A mismatch (an average over the local rows where the global batch is
/// meant) moves nearly every tensor by 1e-4 and more.
/// </summary>
[Trait("Category", "Distributed")]
public class TrainTokenizerDistributedTests
{
    // encoder.down.0 ends in 32 channels and the next stage's first GroupNorm has 32 groups: one channel each.
    const string ZeroGradient = "optimizer.safetensors:encoder.down.0.down_conv.bias.";

    static readonly string[] Files = [TrainingFiles.Model, TrainingFiles.EmaModel, TrainingFiles.LossModule, TrainingFiles.Optimizer, TrainingFiles.DiscriminatorOptimizer];

    static string[] Args(CliRunner.TempDir tmp, string output, int perProcess) =>
        ["train-tokenizer", "-c", Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml"), "-o", output, "--threads", "1",
         .. new[]
         {
             $"dataset.params.train_shards_path_or_url=fashion-mnist:{tmp["fmnist"]}", $"dataset.params.eval_shards_path_or_url=fashion-mnist:{tmp["fmnist"]}",
             "dataset.params.num_workers_per_gpu=1", "losses.perceptual_loss=none", "losses.discriminator_start=1",
             "losses.discriminator_gradient_penalty=adopt_weight", "lr_scheduler.params.warmup_steps=1",
             $"training.per_gpu_batch_size={perProcess}", "training.max_train_steps=2", "experiment.save_every=2", "optimizer.params.epsilon=1e-3", "optimizer.params.epsilon=1e-3",
             "experiment.eval_every=1000", "experiment.generate_every=1000", "experiment.log_every=1",
         }.SelectMany(s => new[] { "--set", s })];

    [MpiFact]
    public void TwoProcessesComputeWhatOneComputesOnTheWholeBatch()
    {
        using var tmp = new CliRunner.TempDir();
        DataFixtures.FashionMnistFolder(tmp["fmnist"], 16, 8);
        var (code, _, stderr) = MpiRunner.RunSingle(Args(tmp, tmp["one"], 4));
        Assert.True(code == 0, stderr);
        var reference = Path.Combine(tmp["one"], "checkpoint-2");
        using var scope = NewDisposeScope();
        foreach (var (name, mca) in new[] { ("shm", Array.Empty<string>()), ("tcp", ["btl", "tcp,self"]) })
        {
            (code, _, stderr) = MpiRunner.Run(2, Args(tmp, tmp[name], 2), mca);
            Assert.True(code == 0, $"{name}: {stderr}");
            var log = File.ReadAllText(Path.Combine(tmp[name], RunFolder.LogFile));
            Assert.Contains("batch 2 x 2 processes = 4", log);
            Assert.Contains("disc", log); // the discriminator trained
            var differences = Differences(reference, Path.Combine(tmp[name], "checkpoint-2"));
            var bad = differences.Where(d => d.Key.StartsWith(ZeroGradient, StringComparison.Ordinal)
                    ? d.Value.Diff > 1e-7 || d.Value.Norm > 1e-7 // noise, and only noise
                    : d.Value.Diff > 1e-5 * Math.Max(d.Value.Norm, 1e-12))
                .Select(d => $"{d.Key} {d.Value.Diff:E2} (norm {d.Value.Norm:E2})").ToList();
            Assert.True(bad.Count == 0, $"{name}: {bad.Count} of {differences.Count} tensors differ: {string.Join("; ", bad.Take(10))}");
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
