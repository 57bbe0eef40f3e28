using MaskBit.Config;
using MaskBit.Distributed;
using MaskBit.Generation;
using MaskBit.Interop;

namespace MaskBit.Training;

/// <summary>
/// Stage II training state and one optimizer step of the original's <c>train_maskbit.py</c> (fidelity 6.2): factorised
/// bit tokens, masking with the training schedule, class-label dropout, LFQ-BERT forward in train mode, the MLM loss
/// with label smoothing, backward, clipping, AdamW with the scheduled rate and the EMA of the weights.
/// </summary>
public sealed class GeneratorTraining : IDisposable
{
    public MaskedGenerator Model { get; }
    public MlmLoss Loss { get; }
    public AdamW Optimizer { get; }
    public LrSchedule Schedule { get; }
    public Ema? Ema { get; }
    /// <summary>Completed optimizer steps (the original's <c>global_step</c>).</summary>
    public long GlobalStep { get; set; }

    readonly MlmModelConfig _mlm;
    readonly TrainingConfig _training;

    /// <param name="model">The generator, built for the tokenizer's token width and the data's class count.</param>
    public GeneratorTraining(ExperimentConfig config, MaskedGenerator model)
    {
        _mlm = config.Model?.MlmModel ?? throw new ConfigException("model.mlm_model: missing (a generator config is needed)");
        _training = config.Training ?? new TrainingConfig();
        var mlmLoss = config.Losses?.Mlm ?? new MlmLossConfig();
        Model = model;
        Model.train();
        Loss = new MlmLoss(mlmLoss.LabelSmoothing, mlmLoss.SumSplits);
        Optimizer = AdamW.FromConfig(config, model.named_parameters().Select(p => (p.name, p.parameter)));
        Schedule = LrSchedule.FromConfig(config, (config.Optimizer?.Params ?? new OptimizerParamsConfig()).LearningRate);
        Ema = _training.UseEma ? new Ema(model, _training.EmaDecay) : null;
    }

    /// <summary>
    /// One optimizer step on token indices [B, N] int64 (the tokenizer's row-major grid) and labels [B]: splits the
    /// tokens, masks elements with the training schedule and drops labels with probability <c>class_label_dropout</c>,
    /// drawing from <paramref name="rng"/>, then <see cref="Step(Tensor, Tensor, Tensor, Tensor, Tensor)"/>.
    /// </summary>
    public Dictionary<string, double> Step(Tensor tokens, Tensor labels, torch.Generator rng) => Step(tokens, labels, rng, ProcessGroup.Single);

    /// <summary>
    /// The same as one process of <paramref name="group"/>: <paramref name="tokens"/> and <paramref name="labels"/> are
    /// the global batch, whose masks and label drops every process draws alike; each process then trains on its slice
    /// of rows (<see cref="Shard.Range"/>), and the gradients are averaged, so N processes compute what one process
    /// computes on the whole batch (dropout aside: each process draws its own).
    /// </summary>
    public Dictionary<string, double> Step(Tensor tokens, Tensor labels, torch.Generator rng, ProcessGroup group)
    {
        using var scope = NewDisposeScope();
        int codebookSize = 1 << Model.Bits;
        var split = Factorization.Split(tokens, codebookSize, Model.Splits);                       // [B, N, m]
        var (masked, masks) = Masking.GetMaskTokens(split, Model.MaskToken, _mlm.TrainMaskScheduleStrategy, rng);
        var drops = DrawLabelDrops(tokens.shape[0], rng).to(tokens.device);                          // [B]
        if (!group.IsDistributed) return Step(split, masked, masks, labels, drops);
        if (tokens.shape[0] % group.Size != 0)
            throw new ArgumentException($"a global batch of {tokens.shape[0]} does not split into {group.Size} equal parts");
        var (start, end) = new Shard(group.Rank, group.Size).Range(tokens.shape[0]);
        Tensor Rows(Tensor t) => t.narrow(0, start, end - start);
        return Step(Rows(split), Rows(masked), Rows(masks), Rows(labels), Rows(drops), group);
    }

    /// <summary>The original's <c>drop_label_mask = rand(B) &lt; class_label_dropout</c>: [B] bool, true = train this
    /// sample unconditionally (the label embedder's "no class" row), which classifier-free guidance needs.</summary>
    public Tensor DrawLabelDrops(long batch, torch.Generator rng) => torch.rand(batch, generator: rng).lt(Const(_mlm.ClassLabelDropout));

    /// <summary>
    /// The step with its random draws given (a recorded trace replays exactly): split tokens, masked tokens and masks
    /// [B, N, m], labels [B] int64, drop_label_mask [B] bool. Returns the loss terms the original logs, the rate and the
    /// gradient norm before clipping.
    /// </summary>
    public Dictionary<string, double> Step(Tensor splitTokens, Tensor maskedTokens, Tensor masks, Tensor labels, Tensor dropLabelMask) =>
        Step(splitTokens, maskedTokens, masks, labels, dropLabelMask, ProcessGroup.Single);

    /// <summary>The same on this process's rows of a global batch: gradients and the logged losses are averaged over
    /// <paramref name="group"/> (equal rows per process, so the mean of the means is the batch's mean).</summary>
    Dictionary<string, double> Step(Tensor splitTokens, Tensor maskedTokens, Tensor masks, Tensor labels, Tensor dropLabelMask, ProcessGroup group)
    {
        using var scope = NewDisposeScope();
        Model.train();
        var logits = Model.forward(maskedTokens, labels, dropLabelMask.to(ScalarType.Bool));
        var loss = Loss.Forward(logits, splitTokens, masks.to(ScalarType.Bool));
        loss.Loss.backward();
        var parameters = Optimizer.Parameters.Select(p => p.Param).ToList();
        group.AllReduceMean(parameters.Where(p => p.grad is not null).Select(p => p.grad!));
        double gradNorm = _training.MaxGradNorm is double max ? GradClip.ClipGradNorm(parameters, max) : GradClip.GradNorm(parameters);
        double rate = Schedule.LearningRate(GlobalStep);
        Optimizer.Step(rate);
        Optimizer.ZeroGrad();
        Ema?.Step();
        GlobalStep++;
        // Each process's means, averaged over the processes (the masked-token terms: a mean of the processes' means).
        double[] terms = [loss.Loss.item<float>(), loss.CorrectTokens.item<float>(), loss.MaskedTokenLoss.item<float>(), loss.MaskedCorrectTokens.item<float>()];
        group.AllReduceSum(terms);
        return new Dictionary<string, double>
        {
            ["loss"] = terms[0] / group.Size,
            ["correct_tokens"] = terms[1] / group.Size,
            ["masked_token_loss"] = terms[2] / group.Size,
            ["masked_correct_tokens"] = terms[3] / group.Size,
            ["lr"] = rate,
            ["grad_norm"] = gradNorm,
        };
    }

    /// <summary>Writes the model and the EMA weights (released naming, loadable by the original) and the optimizer state.</summary>
    public void Save(string dir)
    {
        Checkpoint.Save(Model, Path.Combine(dir, TrainingFiles.Model), Model.SavingKeyRenames);
        if (Ema is not null)
            Checkpoint.WriteStateDict(Path.Combine(dir, TrainingFiles.EmaModel), TrainingFiles.EmaStateDict(Model, Ema, Model.SavingKeyRenames));
        Checkpoint.WriteStateDict(Path.Combine(dir, TrainingFiles.Optimizer), Optimizer.StateDict());
    }

    /// <summary><c>experiment.init_weight</c>: generator weights only (a model folder's <c>generator.safetensors</c> or
    /// a checkpoint's model file, either naming), loaded strictly and copied into the EMA; step and optimizer stay.</summary>
    public void LoadWeights(string path) => TrainingFiles.LoadWeights(Model, Ema, path, Model.FileKeyRenames);

    /// <summary>Restores what <see cref="Save"/> wrote, strictly, and the step.</summary>
    public void Load(string dir, long globalStep, bool loadOptimizer = true)
    {
        Checkpoint.LoadInto(Model, Path.Combine(dir, TrainingFiles.Model), Model.FileKeyRenames);
        if (Ema is not null) TrainingFiles.LoadEma(Path.Combine(dir, TrainingFiles.EmaModel), Ema, Model.FileKeyRenames);
        if (loadOptimizer) TrainingFiles.WithTensors(Path.Combine(dir, TrainingFiles.Optimizer), (t, path) => Optimizer.LoadStateDict(t, path));
        GlobalStep = globalStep;
        if (Ema is not null) Ema.OptimizationStep = globalStep;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Ema?.Dispose();
    }
}
