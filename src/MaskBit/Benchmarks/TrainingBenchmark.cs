using MaskBit.Config;
using MaskBit.Distributed;
using MaskBit.Generation;
using MaskBit.Networks;
using MaskBit.Training;
using MaskBit.Training.Losses;

namespace MaskBit.Benchmarks;

/// <summary>Seconds per training step of either stage on random data, after one warm-up step. Under an MPI launcher
/// every process trains on its <c>batch</c> rows of a global batch (data parallelism, as the trainers do), and the
/// images per second count the global batch.</summary>
public static class TrainingBenchmark
{
    /// <summary>Stage I: the full step, with the discriminator active (its start set to 0) and the perceptual network the
    /// config names (random weights).</summary>
    public static BenchmarkReport Tokenizer(ExperimentConfig cfg, string name, Device dev, int batch, int steps)
    {
        var losses = cfg.Losses ?? throw new ArgumentException($"{name}: no losses section (a tokenizer config is needed)");
        cfg = cfg with
        {
            Losses = losses with { DiscriminatorStart = 0 },
            Training = (cfg.Training ?? new()) with { PerGpuBatchSize = batch },
        };
        nn.Module<Tensor, Tensor, Tensor>? perceptual = losses.PerceptualWeight <= 0 ? null : losses.PerceptualLoss switch
        {
            "resnet50" => new PerceptualLoss(new ResNet50(), losses.PerceptualLossOnLogits),
            "resnet18" => new ResNet18PerceptualLoss(new ResNet18Cntk(), losses.PerceptualLossOnLogits),
            _ => null,
        };
        using var perceptualModule = perceptual;
        perceptual?.to(dev);
        var group = ProcessGroup.World;
        using var training = new TokenizerTraining(cfg, perceptual, dev, group);
        int size = cfg.Resolution;
        using var images = rand([batch, cfg.Model!.VqModel!.NumChannels, size, size], device: dev);
        training.Step([images]); // warm-up
        double perStep = Measure.Seconds(() => { for (int i = 0; i < steps; i++) training.Step([images]); }) / steps;
        return Report("tokenizer", name, dev, batch, perStep,
        [
            ("tokenizer / discriminator parameters", $"{training.Model.parameters().Sum(p => p.numel()):N0} / {training.Loss.Discriminator.parameters().Sum(p => p.numel()):N0}"),
            ("batch per process, image size, perceptual", $"{batch}, {size}x{size}, {(perceptual is null ? "none" : losses.PerceptualLoss)}"),
            ("training step (generator + discriminator + EMA)", Rate(batch * group.Size, perStep)),
        ], group);
    }

    /// <summary>Stage II on random tokens and labels: split, mask, label dropout, forward, MLM loss, backward, clipping,
    /// AdamW, EMA.</summary>
    public static BenchmarkReport Generator(ExperimentConfig cfg, string name, Device dev, int batch, int steps)
    {
        var vq = cfg.Model?.VqModel ?? throw new ArgumentException($"{name}: config has no model.vq_model");
        var mlm = cfg.Model.MlmModel ?? throw new ArgumentException($"{name}: config has no model.mlm_model (a generator config is needed)");
        cfg = cfg with { Training = (cfg.Training ?? new()) with { PerGpuBatchSize = batch } };
        int size = cfg.Resolution;
        manual_seed(0);
        using var model = GeneratorFactory.Create(mlm, vq, size);
        model.to(dev);
        var group = ProcessGroup.World;
        using var training = new GeneratorTraining(cfg, model);
        using var rng = new torch.Generator(0, dev);
        long tokensPerImage = (long)(size / vq.DownsamplingFactor) * (size / vq.DownsamplingFactor);
        long global = (long)batch * group.Size;
        using var tokens = randint(0, vq.EffectiveCodebookSize, [global, tokensPerImage], dtype: int64, device: dev);
        using var labels = randint(0, 10, [global], dtype: int64, device: dev); // any classes: the cost does not depend on them
        training.Step(tokens, labels, rng, group); // warm-up
        double perStep = Measure.Seconds(() => { for (int i = 0; i < steps; i++) training.Step(tokens, labels, rng, group); }) / steps;
        return Report("generator", name, dev, batch, perStep,
        [
            ("generator parameters", $"{model.parameters().Sum(p => p.numel()):N0}"),
            ("batch per process, tokens per image", $"{batch}, {tokensPerImage}"),
            ("training step (masking, forward, backward, AdamW, EMA)", Rate((int)global, perStep)),
        ], group);
    }

    static string Rate(int batch, double perStep) => $"{perStep:F3} s ({1 / perStep:F2} steps/s, {batch / perStep:F1} images/s)";

    static BenchmarkReport Report(string stage, string config, Device dev, int batch, double secondsPerStep, (string, string)[] rows, ProcessGroup group)
    {
        long peak = MachineInfo.PeakResidentMiB();
        return BenchmarkReport.Of("value",
            [("config", config), ("device / threads / processes", $"{dev} / {get_num_threads()} / {group.Size}"), .. rows, ("peak resident memory (one process)", $"{peak:N0} MiB")],
            new Dictionary<string, object>
            {
                ["stage"] = stage,
                ["config"] = config,
                ["batch"] = batch,
                ["processes"] = group.Size,
                [$"train_{stage}_steps_per_s"] = 1 / secondsPerStep,
                ["train_images_per_s"] = batch * group.Size / secondsPerStep,
                ["peak_rss_mib"] = peak,
                ["threads"] = get_num_threads(),
                ["cpu"] = MachineInfo.CpuModel(),
            });
    }
}
