using System.Diagnostics;
using System.Globalization;
using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Distributed;
using MaskBit.Evaluation;
using MaskBit.Imaging;
using MaskBit.Networks;
using MaskBit.Training.Losses;
using static TorchSharp.torch.nn;

namespace MaskBit.Training;

/// <summary>
/// The Stage I loop (the original's <c>train_tokenizer.py</c>, fidelity 6.1), top to bottom: batch -> step (forward, loss,
/// backward, clip, AdamW, schedule, discriminator, EMA) -> log every <c>log_every</c> -> reconstructions every
/// <c>generate_every</c> and evaluation every <c>eval_every</c> with the EMA weights -> checkpoint every
/// <c>save_every</c> and at the end. Resumes from the newest complete checkpoint of the run folder
/// (<c>experiment.resume</c>) or starts from <c>experiment.init_checkpoint</c> or <c>experiment.init_weight</c> (weights only).
/// </summary>
public static class TokenizerTrainer
{
    public static void Run(ExperimentConfig config, TrainingRunOptions options, CancellationToken cancellationToken = default)
    {
        var experiment = config.Experiment ?? throw new ConfigException("experiment: missing (it names the run)");
        var training = config.Training ?? new TrainingConfig();
        var device = options.Device ?? CPU;
        var group = ProcessGroup.World;
        int globalBatch = training.PerGpuBatchSize * group.Size;
        // Everything that can be wrong with the inputs fails here, before the first step.
        var perceptual = Perceptual(config.Losses ?? throw new ConfigException("losses: missing"), options.PerceptualWeights, device);
        ImageTransform.FromConfig(config.Dataset?.Preprocessing ?? new(), train: true);
        var dataset = Datasets.FromConfig(config, DataSplit.Train);
        if (dataset.Count < globalBatch)
            throw new ConfigException($"dataset.params.train_shards_path_or_url: {dataset.Source} has {dataset.Count} images, fewer than one batch of {globalBatch}");
        RunFolder.CheckStartFiles(experiment);
        using var run = new RunFolder(options.OutputDir, config);
        void Log(string message)
        {
            // Written whether or not anyone listens (?. would skip the argument too); null in ranks other than 0.
            if (run.Log(message) is { } line) options.OnLog?.Invoke(line);
        }
        using var state = new TokenizerTraining(config, perceptual, device, group);

        var position = run.Start(experiment, state.LoadWeights, state.Load, Log);
        DataParallel.BroadcastState(group, state.Model, state.Ema);
        group.Broadcast(state.Loss.TrainableState.Select(kv => kv.Value)); // the discriminator and LeCam's buffers
        // Every process reads its rows of the global batch; the order and augmentation are one process's.
        var loaderConfig = config with { Training = training with { Seed = DataParallel.SharedSeed(training.Seed, group) } };
        using var loader = Data.DataLoader.FromConfig(loaderConfig, DataSplit.Train, position, globalBatch, new Shard(group.Rank, group.Size));
        long maxSteps = Math.Min(training.MaxTrainSteps, options.StopAtStep ?? long.MaxValue);
        Log($"training {Params(state.Model):N0}-parameter tokenizer{(config.Model!.VqModel!.FinetuneDecoder ? " (decoder only: finetune_decoder)" : "")} from step {state.GlobalStep} to {maxSteps}; " +
            $"{loader.Dataset.Count:N0} training images, batch {DataParallel.DescribeBatch(training.PerGpuBatchSize, group)} x {training.GradientAccumulationSteps}");

        var clock = Stopwatch.StartNew();
        long imagesSinceLog = 0;
        while (state.GlobalStep < maxSteps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var batches = Enumerable.Range(0, training.GradientAccumulationSteps).Select(_ => loader.Next()!).ToList();
            var images = batches.Select(b => b.Images.to(device)).ToList<Tensor>();
            var logs = state.Step(images);
            long step = state.GlobalStep;
            imagesSinceLog += batches.Sum(b => b.Count);
            double rate = imagesSinceLog / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            options.OnStep?.Invoke(new TrainingProgress(step, maxSteps, logs["gen.total_loss"], rate));

            if (step % experiment.LogEvery == 0)
            {
                foreach (var (k, v) in logs) run.Scalar(k.StartsWith("gen.") || k.StartsWith("disc.") ? "train/" + k[(k.IndexOf('.') + 1)..] : k, v, step);
                run.Scalar("samples/sec/gpu", rate, step);
                Log(string.Create(CultureInfo.InvariantCulture, $"step {step}: loss {logs["gen.total_loss"]:F5}, rec {logs["gen.reconstruction_loss"]:F5}, " +
                    $"entropy {logs["gen.entropy_loss"]:F5}, lr {logs["lr"]:E3}, grad norm {logs["grad_norm"]:F3}{(logs.TryGetValue("disc.discriminator_loss", out var d) ? $", disc {d:F5}" : "")}, {rate:F1} images/s"));
                clock.Restart();
                imagesSinceLog = 0;
            }
            if (step % experiment.GenerateEvery == 0 && run.Writes)
                Ema.WithShadowWeights(state.Ema, () => SaveReconstructions(state, run, batches[0], training.NumGeneratedImages, step, device));
            if (step % experiment.EvalEvery == 0 && run.Writes)
                Ema.WithShadowWeights(state.Ema, () => Evaluate(config, state, run, step, device, Log));
            if (step % experiment.SaveEvery == 0 || step == maxSteps)
            {
                DataParallel.CheckInSync(group, state.Model, state.Ema, step, state.Loss.TrainableState.Select(kv => kv.Value));
                Save(run, state, loader.Position, Log);
            }
        }
    }

    static long Params(Module m) => m.parameters().Sum(p => p.numel());

    /// <summary>The perceptual network <c>losses.perceptual_loss</c> names, loaded before anything else.</summary>
    static Module<Tensor, Tensor, Tensor>? Perceptual(LossesConfig losses, string? weights, Device device)
    {
        if (losses.PerceptualWeight == 0 || losses.PerceptualLoss == "none") return null;
        if (losses.PerceptualLoss == "resnet18")
        {
            // The CNTK ResNet-18 from the NuGet cache, or the ResNet18.onnx that --perceptual-weights names.
            if (weights is null && ResNet18Cntk.Find() is null)
                throw new ConfigException($"losses.perceptual_loss: resnet18: {ResNet18Cntk.MissingMessage} with --perceptual-weights");
            return ResNet18PerceptualLoss.Load(weights, losses.PerceptualLossOnLogits, device);
        }
        if (losses.PerceptualLoss == "lpips")
        {
            // The original's LPIPS module (fidelity 3.3, 7.4), fed [0, 1] images as the original's loss feeds it.
            if (weights is null || !Directory.Exists(weights))
                throw new ConfigException($"losses.perceptual_loss: lpips needs a folder with torchvision's {Lpips.VggFileName} and the original's {Lpips.LinFileName}: pass it with --perceptual-weights DIR");
            return Lpips.Load(Path.Combine(weights, Lpips.VggFileName), Path.Combine(weights, Lpips.LinFileName), device);
        }
        if (losses.PerceptualLoss != "resnet50")
            throw new ConfigException($"losses.perceptual_loss: '{losses.PerceptualLoss}' is not available; use resnet50 (with its weight file), lpips (with its folder), resnet18 (the NuGet-cached CNTK ResNet-18) or none");
        if (weights is null)
            throw new ConfigException($"losses.perceptual_loss: resnet50 needs torchvision's ResNet-50 weights ({ResNet50.WeightFileName}): pass --perceptual-weights FILE, or set losses.perceptual_loss=none");
        return PerceptualLoss.Load(weights, losses.PerceptualLossOnLogits, device);
    }

    /// <summary>Original | reconstruction | |difference| strips of the first images of the batch (EMA weights), as PNGs
    /// named like the original's and in TensorBoard.</summary>
    static void SaveReconstructions(TokenizerTraining state, RunFolder run, Batch batch, int count, long step, Device device)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        state.Model.eval();
        var x = batch.Images.narrow(0, 0, Math.Min(count, batch.Count)).to(device);
        var recon = state.Model.call(x).decoded.clamp(Const(0), Const(1)).cpu();
        state.Model.train();
        for (int i = 0; i < x.shape[0]; i++)
        {
            var real = batch.Images[i];
            var strip = new[] { RgbImage.FromTensor(real), RgbImage.FromTensor(recon[i]), Images.Difference(real, recon[i]) };
            Images.SaveGrid(Path.Combine(run.Path, "train_images", $"{step:D8}_s-{i:D3}-{Safe(batch.Keys[i])}.png"), [strip]);
            run.Image($"Train Reconstruction/{i}", cat([real, recon[i], (real - recon[i]).abs()], 2), step);
        }
    }

    static string Safe(string key) => string.Concat(key.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

    /// <summary>PSNR, SSIM, MAE, MSE and codebook usage/entropy of the EMA weights over the evaluation split.</summary>
    static void Evaluate(ExperimentConfig config, TokenizerTraining state, RunFolder run, long step, Device device, Action<string> log)
    {
        using var loader = Data.DataLoader.FromConfig(config, DataSplit.Eval);
        using var metrics = new TokenizerEvaluator((int)state.Model.Quantize.CodebookSize);
        state.Model.eval();
        try
        {
            while (loader.Next() is { } batch)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                using var b = batch;
                var x = b.Images.to(device);
                var (decoded, q) = state.Model.call(x);
                metrics.Update(x, decoded.clamp(Const(0), Const(1)), q.MinEncodingIndices);
            }
        }
        finally { state.Model.train(); }
        var m = metrics.Result();
        foreach (var (k, v) in m.Entries()) run.Scalar("eval/" + k, v, step);
        log(string.Create(CultureInfo.InvariantCulture, $"eval at step {step} (EMA weights): PSNR {m.Psnr:F2} dB, SSIM {m.Ssim:F4}, codebook usage {m.CodebookUsage:P1}"));
    }

    static void Save(RunFolder run, TokenizerTraining state, LoaderPosition next, Action<string> log)
    {
        var path = run.SaveCheckpoint(new CheckpointMetadata(state.GlobalStep, next.Epoch, next.Batch), state.Save);
        log($"saved {path}");
    }
}
