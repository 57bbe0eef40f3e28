using System.Diagnostics;
using System.Globalization;
using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Distributed;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Tokenizer;

namespace MaskBit.Training;

/// <summary>
/// The Stage II loop (the original's <c>train_maskbit.py</c>, fidelity 6.2), top to bottom: token batch (from a
/// <see cref="TokenCache"/>, or images encoded on the fly by the frozen tokenizer as the original does) -> step
/// (split, mask, label dropout, forward, MLM loss, backward, clip, AdamW, schedule, EMA) -> log every <c>log_every</c>
/// -> with the EMA weights, a grid with a row per class every <c>generate_every</c> and the held-out MLM loss and
/// masked-token accuracy every <c>eval_every</c> -> checkpoint every <c>save_every</c>, and one at the last step.
/// A run resumes from its newest checkpoint (<c>experiment.resume</c>) or starts from <c>experiment.init_checkpoint</c>
/// or from weights alone (<c>experiment.init_weight</c>, e.g. to continue a finished run with a new schedule).
/// Fixed (fidelity Q13): every step puts the generator in train mode (dropout on), whatever the periodic sampling left.
/// </summary>
public static class GeneratorTrainer
{
    // Salts that keep a step's random streams apart (any distinct numbers; changing one changes every run's draws):
    // the masks and label drops, the global generator's dropout, and the held-out evaluation's masks.
    const long MaskingSalt = 7, DropoutSalt = 13, EvalMaskingSalt = 11;

    /// <summary>Trains (or resumes) the run; the result names its last checkpoint once <c>max_train_steps</c> is reached,
    /// from which <see cref="Pipeline.RunExport"/> makes the model folder.</summary>
    public static GeneratorRun Run(ExperimentConfig config, TrainingRunOptions options, string tokenizerPath, CancellationToken cancellationToken = default)
    {
        var experiment = config.Experiment ?? throw new ConfigException("experiment: missing (it names the run)");
        var training = config.Training ?? new TrainingConfig();
        var vq = config.Model?.VqModel ?? throw new ConfigException("model.vq_model: missing (the frozen tokenizer)");
        var mlm = config.Model.MlmModel ?? throw new ConfigException("model.mlm_model: missing");
        var device = options.Device ?? CPU;
        var group = ProcessGroup.World;
        int seed = DataParallel.SharedSeed(training.Seed, group);
        int imageSize = config.Resolution;

        // Everything that can be wrong with the inputs fails here, before the first step.
        using var tokenizerModule = TokenizerFactory.Load(vq, tokenizerPath, device).Module;
        var tokenizer = (ITokenizer)tokenizerModule;
        using var source = TokenSource.Open(config, DataSplit.Train, tokenizer, device);
        manual_seed(seed);
        using var model = GeneratorFactory.Create(mlm, vq.EffectiveCodebookSize, imageSize, vq.DownsamplingFactor, source.ClassNames.Count);
        model.to(device);
        RunFolder.CheckStartFiles(experiment);
        using var run = new RunFolder(options.OutputDir, config);
        void Log(string message)
        {
            // Written whether or not anyone listens (?. would skip the argument too); null in ranks other than 0.
            if (run.Log(message) is { } line) options.OnLog?.Invoke(line);
        }
        using var state = new GeneratorTraining(config, model);

        var position = run.Start(experiment, state.LoadWeights, state.Load, Log);
        DataParallel.BroadcastState(group, model, state.Ema);
        long maxSteps = Math.Min(training.MaxTrainSteps, options.StopAtStep ?? long.MaxValue);
        int globalBatch = training.PerGpuBatchSize * group.Size;
        Log($"training {model.parameters().Sum(p => p.numel()):N0}-parameter generator from step {state.GlobalStep} to {maxSteps} on {source.Describe}; batch {DataParallel.DescribeBatch(training.PerGpuBatchSize, group)}");

        var clock = Stopwatch.StartNew();
        long imagesSinceLog = 0;
        using var batches = source.Batches(globalBatch, seed, position).GetEnumerator();
        while (state.GlobalStep < maxSteps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            batches.MoveNext();
            var (tokens, labels, next) = batches.Current;
            // The step's draws (masks, label drops; dropout from the global generator) come from the seed and the step
            // alone, so a resumed run needs no saved generator state to continue exactly.
            using var rng = new torch.Generator((ulong)Seeds.Mix(seed, state.GlobalStep, MaskingSalt));
            manual_seed(DataParallel.RankSeed(seed, group, state.GlobalStep, DropoutSalt));
            var logs = state.Step(tokens.to(device), labels.to(device), rng, group);
            long step = state.GlobalStep;
            imagesSinceLog += tokens.shape[0];
            double rate = imagesSinceLog / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            options.OnStep?.Invoke(new TrainingProgress(step, maxSteps, logs["loss"], rate));
            if (step % experiment.LogEvery == 0)
            {
                foreach (var (k, v) in logs) run.Scalar(k is "lr" or "grad_norm" ? k : "train/" + k, v, step);
                run.Scalar("samples/sec/gpu", rate, step);
                Log(string.Create(CultureInfo.InvariantCulture, $"step {step}: loss {logs["loss"]:F4}, masked loss {logs["masked_token_loss"]:F4}, " +
                    $"masked accuracy {logs["masked_correct_tokens"]:P1}, lr {logs["lr"]:E3}, grad norm {logs["grad_norm"]:F3}, {rate:F1} images/s"));
                clock.Restart();
                imagesSinceLog = 0;
            }
            if (step % experiment.GenerateEvery == 0 && run.Writes)
                Ema.WithShadowWeights(state.Ema, () => SaveSamples(config, state, tokenizer, source.ClassNames, run, step, seed, device));
            if (step % experiment.EvalEvery == 0 && run.Writes)
                Ema.WithShadowWeights(state.Ema, () => Evaluate(config, state, tokenizer, run, step, seed, device, Log));
            if (step % experiment.SaveEvery == 0 || step == maxSteps)
            {
                DataParallel.CheckInSync(group, model, state.Ema, step);
                var saved = run.SaveCheckpoint(new CheckpointMetadata(step, next.Epoch, next.Batch), state.Save);
                Log($"saved {saved}");
            }
        }
        return new GeneratorRun(run.Path, state.GlobalStep, state.GlobalStep >= training.MaxTrainSteps ? run.CheckpointPath(state.GlobalStep) : null, source.ClassNames);
    }

    /// <summary>A grid with a row per class, labelled with its name (up to 10 classes, <c>num_generated_images</c> per row), sampled with the
    /// config's settings, as <c>train_generated_images/&lt;step&gt;_s-generated.png</c> and in TensorBoard.</summary>
    static void SaveSamples(ExperimentConfig config, GeneratorTraining state, ITokenizer tokenizer, ClassNames classes, RunFolder run,
        long step, int seed, Device device)
    {
        using var scope = NewDisposeScope();
        int perClass = Math.Max(1, config.Training?.NumGeneratedImages ?? 4);
        var rows = Enumerable.Range(0, Math.Min(10, classes.Count)).ToList();
        var labels = tensor(rows.SelectMany(c => Enumerable.Repeat((long)c, perClass)).ToArray(), device: device);
        using var noise = new SeededSamplerNoise((ulong)seed, device);
        var result = new Sampler(state.Model, config.Model!.MlmModel!.Sampling, noise).Sample((int)labels.shape[0], labels);
        using var _ = no_grad();
        var images = tokenizer.DecodeTokens(result.Tokens).clamp(Const(0), Const(1)).cpu();
        var grid = rows.Select((c, i) => (IReadOnlyList<Tensor>)Enumerable.Range(0, perClass).Select(k => images[i * perClass + k]).ToList()).ToList();
        Images.SaveGrid(Path.Combine(run.Path, "train_generated_images", $"{step:D8}_s-generated.png"), grid, rows.Select(classes.ShortName).ToList());
        run.Image("Train Generated", cat(rows.Select((_, i) => cat(Enumerable.Range(0, perClass).Select(k => images[i * perClass + k]).ToList(), 2)).ToList(), 1), step);
    }

    /// <summary>Held-out MLM loss and masked-token accuracy (EMA weights, eval mode, the same masking draws every time).</summary>
    static void Evaluate(ExperimentConfig config, GeneratorTraining state, ITokenizer tokenizer, RunFolder run, long step, int seed, Device device, Action<string> log)
    {
        using var source = TokenSource.Open(config, DataSplit.Eval, tokenizer, device);
        var mlm = config.Model!.MlmModel!;
        double loss = 0, accuracy = 0;
        int batches = 0;
        state.Model.eval();
        foreach (var (tokens, labels) in source.Pass(config.Training?.PerGpuBatchSize ?? 32).Take(50))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var rng = new torch.Generator((ulong)Seeds.Mix(seed, batches, EvalMaskingSalt));
            var split = Factorization.Split(tokens.to(device), 1 << state.Model.Bits, state.Model.Splits);
            var (masked, masks) = Masking.GetMaskTokens(split, state.Model.MaskToken, mlm.TrainMaskScheduleStrategy, rng);
            var logits = state.Model.forward(masked, labels.to(device), zeros(tokens.shape[0], ScalarType.Bool, device));
            var o = state.Loss.Forward(logits, split, masks);
            loss += o.MaskedTokenLoss.item<float>();
            accuracy += o.MaskedCorrectTokens.item<float>();
            batches++;
        }
        run.Scalar("eval/masked_token_loss", loss / batches, step);
        run.Scalar("eval/masked_correct_tokens", accuracy / batches, step);
        log(string.Create(CultureInfo.InvariantCulture, $"eval at step {step} (EMA weights, {batches} batches): masked-token loss {loss / batches:F4}, accuracy {accuracy / batches:P2}"));
    }
}
