using MaskBit.Config;
using MaskBit.Distributed;
using MaskBit.Interop;
using MaskBit.Tokenizer;
using static TorchSharp.torch.nn;

namespace MaskBit.Training;

/// <summary>
/// Stage I training state and one optimizer step of the original's <c>train_tokenizer.py</c> (fidelity 6.1): the VQGAN+
/// autoencoder, its loss module (discriminator, LeCam buffers, perceptual network), two AdamW optimizers with their
/// LR schedules, gradient clipping, and the EMA of the weights. <see cref="Step"/> is the body of the loop;
/// <see cref="Save"/>/<see cref="Load"/> keep everything a resumed run needs to continue exactly.
/// </summary>
public sealed class TokenizerTraining : IDisposable
{
    public ExperimentConfig Config { get; }
    public ConvVqModel Model { get; }
    public VqganLoss Loss { get; }
    public AdamW Optimizer { get; }
    public AdamW DiscriminatorOptimizer { get; }
    public LrSchedule Schedule { get; }
    public LrSchedule DiscriminatorSchedule { get; }
    public Ema? Ema { get; }
    /// <summary>Completed optimizer steps (the original's <c>global_step</c>).</summary>
    public long GlobalStep { get; set; }

    readonly LossesConfig _losses;
    readonly TrainingConfig _training;
    readonly ProcessGroup _group;

    /// <param name="perceptual">The frozen perceptual network (<c>losses.perceptual_loss</c>), or null to train without it.</param>
    /// <param name="group">The processes that train together, each on its rows of every batch (data parallelism): the
    /// batch statistics of the losses are taken over all rows, gradients and logged values averaged. One by default.</param>
    public TokenizerTraining(ExperimentConfig config, Module<Tensor, Tensor, Tensor>? perceptual = null, Device? device = null, ProcessGroup? group = null)
    {
        _group = group ?? ProcessGroup.Single;
        Config = config;
        var vq = config.Model?.VqModel ?? throw new ConfigException("model.vq_model: missing (a tokenizer config is needed)");
        var disc = config.Model.Discriminator ?? throw new ConfigException("model.discriminator: missing (tokenizer training needs one)");
        _losses = config.Losses ?? throw new ConfigException("losses: missing (tokenizer training needs it)");
        _training = config.Training ?? new TrainingConfig();
        if (vq.ModelClass != "vqgan+") throw new ConfigException($"model.vq_model.model_class: training is implemented for vqgan+, got '{vq.ModelClass}'");
        var opt = config.Optimizer?.Params ?? new OptimizerParamsConfig();

        if (_training.Seed is int seed) manual_seed(seed);
        Model = new ConvVqModel(vq);
        Loss = new VqganLoss(disc, _losses, perceptual) { BatchGroup = _group };
        Model.Quantize.BatchGroup = _group;
        if (device is not null) { Model.to(device); Loss.to(device); }
        Model.train();

        Optimizer = AdamW.FromConfig(config, Model.named_parameters().Select(p => (p.name, p.parameter)));
        DiscriminatorOptimizer = AdamW.FromConfig(config, Loss.DiscriminatorParameters);
        Schedule = LrSchedule.FromConfig(config, opt.LearningRate);
        // The discriminator's horizon starts at its first update (single-process form of fidelity 6.3).
        DiscriminatorSchedule = LrSchedule.FromConfig(config, opt.DiscriminatorLearningRate) with { TrainingSteps = _training.MaxTrainSteps - _losses.DiscriminatorStart };
        Ema = _training.UseEma ? new Ema(Model, _training.EmaDecay) : null;
    }

    /// <summary>
    /// One optimizer step on <paramref name="microBatches"/> (gradient accumulation: each [B, 3, H, W] in [0, 1], losses
    /// averaged): autoencoder forward (train mode), <see cref="VqganLoss.ForwardGenerator"/>, backward, clipping, AdamW
    /// with the scheduled rate; from <c>discriminator_start</c> on, the discriminator's step on the same (detached)
    /// reconstructions; then the EMA update. Returns the logged values: the loss terms (<c>gen.*</c>, <c>disc.*</c>),
    /// the rates and the gradient norms before clipping.
    /// </summary>
    public Dictionary<string, double> Step(IReadOnlyList<Tensor> microBatches)
    {
        if (microBatches.Count == 0) throw new ArgumentException("no batch to train on");
        var logs = new Dictionary<string, double>();
        void Add(string prefix, Dictionary<string, Tensor> terms)
        {
            foreach (var (k, v) in terms) logs[prefix + k] = logs.GetValueOrDefault(prefix + k) + v.to(float64).item<double>() / microBatches.Count;
        }
        using var scope = NewDisposeScope();
        using var count = microBatches.Count.ToScalar();
        Model.train();
        var reconstructions = new List<Tensor>();
        foreach (var x in microBatches)
        {
            var (decoded, q) = Model.call(x);
            var (loss, terms) = Loss.ForwardGenerator(x, decoded, q, GlobalStep, Model.Decoder.LastLayerWeight);
            loss.div(count).backward();
            Add("gen.", terms);
            reconstructions.Add(decoded.detach());
        }
        logs["grad_norm"] = Clip(Optimizer); // after the average over the processes
        logs["lr"] = Schedule.LearningRate(GlobalStep);
        Optimizer.Step(logs["lr"]);
        Optimizer.ZeroGrad();

        if (GlobalStep >= _losses.DiscriminatorStart)
        {
            for (int i = 0; i < microBatches.Count; i++)
            {
                var (loss, terms) = Loss.ForwardDiscriminator(microBatches[i], reconstructions[i], GlobalStep);
                loss.div(count).backward();
                Add("disc.", terms);
            }
            logs["disc_grad_norm"] = Clip(DiscriminatorOptimizer);
            logs["disc_lr"] = DiscriminatorSchedule.LearningRate(GlobalStep - _losses.DiscriminatorStart);
            DiscriminatorOptimizer.Step(logs["disc_lr"]);
            DiscriminatorOptimizer.ZeroGrad();
        }
        Ema?.Step();
        GlobalStep++;
        AverageTerms(logs);
        return logs;
    }

    // The loss terms as means over the processes (each a mean over its equal rows); rates and norms are alike already.
    void AverageTerms(Dictionary<string, double> logs)
    {
        if (!_group.IsDistributed) return;
        var keys = logs.Keys.Where(k => k.StartsWith("gen.", StringComparison.Ordinal) || k.StartsWith("disc.", StringComparison.Ordinal)).ToList();
        var values = keys.Select(k => logs[k]).ToArray();
        _group.AllReduceSum(values);
        for (int i = 0; i < keys.Count; i++) logs[keys[i]] = values[i] / _group.Size;
    }

    // Gradients averaged over the processes (flat buckets, after the last micro-batch), then clipped.
    double Clip(AdamW optimizer)
    {
        var parameters = optimizer.Parameters.Select(p => p.Param).ToList();
        _group.AllReduceMean(parameters.Where(p => p.grad is not null).Select(p => p.grad!));
        return _training.MaxGradNorm is double max ? GradClip.ClipGradNorm(parameters, max) : GradClip.GradNorm(parameters);
    }

    /// <summary>
    /// Writes the model (loadable by the original: a plain <c>torch.save</c> state dict), the EMA weights, the loss
    /// module's trainable state (discriminator, LeCam buffers) and both optimizers' moments into <paramref name="dir"/>.
    /// </summary>
    public void Save(string dir)
    {
        Checkpoint.Save(Model, Path.Combine(dir, TrainingFiles.Model));
        if (Ema is not null)
            Checkpoint.WriteStateDict(Path.Combine(dir, TrainingFiles.EmaModel), TrainingFiles.EmaStateDict(Model, Ema));
        Checkpoint.WriteStateDict(Path.Combine(dir, TrainingFiles.LossModule), Loss.TrainableState);
        Checkpoint.WriteStateDict(Path.Combine(dir, TrainingFiles.Optimizer), Optimizer.StateDict());
        Checkpoint.WriteStateDict(Path.Combine(dir, TrainingFiles.DiscriminatorOptimizer), DiscriminatorOptimizer.StateDict());
    }

    /// <summary><c>experiment.init_weight</c>: model weights only (strictly), copied into the EMA too; step and optimizers stay.</summary>
    public void LoadWeights(string path) => TrainingFiles.LoadWeights(Model, Ema, path);

    /// <summary>Restores what <see cref="Save"/> wrote (strictly: a file of another config is refused) and the step.</summary>
    public void Load(string dir, long globalStep, bool loadOptimizers = true)
    {
        Checkpoint.LoadInto(Model, Path.Combine(dir, TrainingFiles.Model));
        if (Ema is not null)
            TrainingFiles.LoadEma(Path.Combine(dir, TrainingFiles.EmaModel), Ema);
        TrainingFiles.WithTensors(Path.Combine(dir, TrainingFiles.LossModule), (t, path) =>
        {
            var target = Loss.TrainableState.ToDictionary(kv => kv.Key, kv => kv.Value);
            var missing = target.Keys.FirstOrDefault(k => !t.ContainsKey(k));
            if (missing is not null) throw new CheckpointException($"{path}: missing {missing}");
            var extra = t.Keys.FirstOrDefault(k => !target.ContainsKey(k));
            if (extra is not null) throw new CheckpointException($"{path}: unexpected {extra} (a loss module of another config)");
            using var _ = no_grad();
            foreach (var (k, v) in target)
            {
                if (!t[k].shape.SequenceEqual(v.shape)) throw new CheckpointException($"{path}: {k} has shape [{string.Join(", ", t[k].shape)}], expected [{string.Join(", ", v.shape)}]");
                v.copy_(t[k]);
            }
        });
        if (loadOptimizers)
        {
            TrainingFiles.WithTensors(Path.Combine(dir, TrainingFiles.Optimizer), (t, path) => Optimizer.LoadStateDict(t, path));
            TrainingFiles.WithTensors(Path.Combine(dir, TrainingFiles.DiscriminatorOptimizer), (t, path) => DiscriminatorOptimizer.LoadStateDict(t, path));
        }
        GlobalStep = globalStep;
        if (Ema is not null) Ema.OptimizationStep = globalStep;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        DiscriminatorOptimizer.Dispose();
        Ema?.Dispose();
        Loss.Dispose();
        Model.Dispose();
    }
}
