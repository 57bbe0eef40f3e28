namespace MaskBit.Generation;

/// <summary>
/// One decoding step. Tensors live until the enclosing dispose scope ends (inside <see cref="Sampler.Sample"/>'s
/// callback: until the callback returns; clone what you keep).
/// </summary>
/// <param name="Probs">softmax(guided logits / temperature) [B, N, m, E].</param>
/// <param name="Pred">Sampled tokens with the already-fixed elements kept [B, N, m].</param>
/// <param name="Confidence">log p(pred) + annealed Gumbel noise, +inf at already-fixed elements [B, N, m].</param>
/// <param name="Threshold">Per-sample confidence at or below which elements are re-masked [B].</param>
/// <param name="TokensAfter">Pred with the re-masked elements set to the mask token: the next step's input [B, N, m].</param>
public sealed record SamplerStep(int Index, float GuidanceScale, Tensor Probs, Tensor Pred, Tensor Confidence,
    float MaskRatio, float MaskLen, long NumMaskedBefore, long NumTokensToMask, Tensor Threshold, Tensor TokensAfter);

/// <summary>Sampling output: the last step's split tokens [B, N, m], their combined indices [B, N] int64 (for the
/// tokenizer's decode_tokens) and every step's predicted split tokens.</summary>
public sealed record SampleResult(Tensor SplitTokens, Tensor Tokens, IReadOnlyList<Tensor> History);

/// <summary>Number of masked elements before a step, the schedule's ratio after it, and how many it re-masks.</summary>
public readonly record struct UnmaskStep(long MaskedBefore, float MaskRatio, float MaskLen, long MaskedAfter);

/// <summary>
/// MaskGIT-style iterative decoding with classifier-free guidance (modeling/modules/sampling.py <c>sample()</c>).
/// Each step runs the conditional and unconditional passes as one forward over the doubled batch, samples every
/// element, keeps the already-fixed ones, and re-masks the k least confident elements (k from the mask schedule).
/// Does not decode images: pass <see cref="SampleResult.Tokens"/> to the tokenizer.
/// Difference from the original: the model's train/eval mode is restored afterwards (the original leaves it in eval).
/// </summary>
public sealed class Sampler
{
    static readonly long[] DefaultClasses = [1, 7, 282, 604, 724, 179, 751, 404, 850];

    readonly MaskedGenerator _model;
    readonly ISamplerNoise _noise;

    public SamplingOptions Options { get; }

    public Sampler(MaskedGenerator model, SamplingOptions options, ISamplerNoise noise)
    {
        _model = model;
        _noise = noise;
        Options = options.Validate();
    }

    /// <summary>Elements per sample that can be masked: N * m.</summary>
    public int NumMaskable => _model.SeqLen * _model.Splits;

    /// <summary>
    /// The original's labels when none are given: goldfish, cock, tiger cat, hourglass, pirate ship, Staffordshire
    /// bullterrier, race car, airliner, teddy bear and one random class in [0, 999) drawn once, repeated
    /// numSamples / 10 times.
    /// </summary>
    public static Tensor DefaultLabels(int numSamples, Generator? rng = null)
    {
        if (numSamples <= 0 || numSamples % 10 != 0)
            throw new ArgumentException($"without labels the number of samples must be a positive multiple of 10 (the original's default label list), got {numSamples}");
        long random = torch.randint(0, 999, [1], generator: rng).item<long>();
        long[] classes = [.. DefaultClasses, random];
        return torch.tensor(Enumerable.Repeat(classes, numSamples / 10).SelectMany(c => c).ToArray());
    }

    /// <summary>
    /// The guidance ramp s_i (float32) multiplying the guidance scale at 0-based step i: none 1, linear i/T,
    /// cosine (1 - cos(pi * (i/T)^scale_pow)) / 2 computed in float32 as the original does.
    /// </summary>
    public static float GuidanceScaleStep(int step, int numSteps, string annealing, double scalePow)
    {
        switch (annealing)
        {
            case "none": return 1f;
            case "linear": return (float)((double)step / numSteps);
            case "cosine":
                using (NewDisposeScope())
                {
                    var progress = torch.tensor((float)((double)step / numSteps));
                    return torch.cos(progress.pow(torch.tensor((float)scalePow)).mul(Const(Math.PI)))
                        .negative().add(Const(1), One).div(Const(2)).item<float>();
                }
            default:
                throw new ArgumentException($"unknown guidance_annealing '{annealing}': expected none, linear or cosine");
        }
    }

    /// <summary>The scale applied at step i: guidance_scale * s_i, rounded as the original's arithmetic rounds it.</summary>
    public float GuidanceScaleAt(int step)
    {
        var o = Options;
        return o.GuidanceAnnealing == "cosine"
            // float32 tensor times a Python float: a float32 product
            ? (float)o.GuidanceScale * GuidanceScaleStep(step, o.NumSteps, o.GuidanceAnnealing, o.ScalePow)
            // Python float product, rounded to float32 when it multiplies the logits
            : (float)(o.GuidanceScale * (o.GuidanceAnnealing == "linear" ? (double)step / o.NumSteps : 1.0));
    }

    /// <summary>
    /// mask_len = floor(ratio * M) (float32) and k = clamp(mask_len, 1, maskedBefore - 1) with torch.clamp semantics
    /// (the upper bound wins when maskedBefore - 1 &lt; 1).
    /// </summary>
    public static (float maskLen, long numTokensToMask) NumTokensToMask(float maskRatio, int numMaskable, long maskedBefore)
    {
        float maskLen = MathF.Floor(maskRatio * numMaskable);
        return (maskLen, (long)Math.Min(Math.Max(maskLen, 1f), maskedBefore - 1));
    }

    /// <summary>How many elements stay masked after each step when no confidences tie (fidelity 5).</summary>
    public static UnmaskStep[] UnmaskSchedule(int numSteps, int numMaskable, string strategy)
    {
        var steps = new UnmaskStep[numSteps];
        long maskedBefore = numMaskable;
        for (int i = 0; i < numSteps; i++)
        {
            float ratio = Masking.GetMaskingRatio((double)(i + 1) / numSteps, strategy);
            var (maskLen, k) = NumTokensToMask(ratio, numMaskable, maskedBefore);
            steps[i] = new UnmaskStep(maskedBefore, ratio, maskLen, k);
            maskedBefore = k;
        }
        return steps;
    }

    /// <summary>
    /// Generates numSamples token grids. labels [B] int64 (the original's default list when null, its random class
    /// drawn from <paramref name="labelRng"/>); <paramref name="onStep"/> sees every step (e.g. for a progress bar).
    /// </summary>
    public SampleResult Sample(int numSamples, Tensor? labels = null, Action<SamplerStep>? onStep = null, Generator? labelRng = null)
    {
        using var outer = NewDisposeScope();
        var device = _model.parameters().First().device;
        labels = (labels ?? DefaultLabels(numSamples, labelRng)).to(device);
        if (labels.numel() != numSamples) throw new ArgumentException($"got {labels.numel()} labels for {numSamples} samples");
        var start = torch.full([numSamples, _model.SeqLen, _model.Splits], Const(_model.MaskToken), ScalarType.Int64, device);
        return Decode(start, labels, null, onStep);
    }

    /// <summary>
    /// Completes partly known split tokens (inpainting): <paramref name="start"/> [B, N, m] holds the mask token at the
    /// elements to generate and fixed values elsewhere; every sample must mask the same number M of elements. The
    /// decoding loop is <see cref="Sample"/>'s with the unmask schedule scaled to M (k = clamp(floor(ratio * M), 1,
    /// masked - 1), and no element re-masked once a single one is left), so the fixed elements never change.
    /// Use <see cref="SamplingOptions.NumSteps"/> &lt;= M; more steps only repeat the last prediction.
    /// </summary>
    public SampleResult Complete(Tensor start, Tensor labels, Action<SamplerStep>? onStep = null)
    {
        if (start.ndim != 3 || start.shape[1] != _model.SeqLen || start.shape[2] != _model.Splits)
            throw new ArgumentException($"split tokens must be [B, {_model.SeqLen}, {_model.Splits}], got [{string.Join(", ", start.shape)}]");
        if (labels.numel() != start.shape[0]) throw new ArgumentException($"got {labels.numel()} labels for {start.shape[0]} samples");
        using var outer = NewDisposeScope();
        var device = _model.parameters().First().device;
        var masked = start.eq(Const(_model.MaskToken)).view(start.shape[0], -1).sum(1).cpu().data<long>().ToArray();
        if (masked.Distinct().Count() != 1)
            throw new ArgumentException($"every sample must mask the same number of elements, got {string.Join(", ", masked)}");
        if (masked[0] == 0) throw new ArgumentException("no masked element to generate");
        return Decode(start.to(device), labels.to(device), (int)masked[0], onStep);
    }

    // The decoding loop from tokens [B, N, m] on the model's device; numMaskable: null for full generation, else the
    // number of masked elements of a completion. Runs inside the caller's dispose scope.
    SampleResult Decode(Tensor tokens, Tensor labels, int? numMaskable, Action<SamplerStep>? onStep)
    {
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            // Inference mode, not just no_grad: no autograd metadata or version counters on any tensor of the loop.
            using var inference = torch.inference_mode();
            var history = new List<Tensor>();
            for (int i = 0; i < Options.NumSteps; i++)
            {
                using (NewDisposeScope())
                {
                    var step = Step(i, tokens, labels, numMaskable);
                    onStep?.Invoke(step);
                    tokens = step.TokensAfter.MoveToOuterDisposeScope();
                    history.Add(step.Pred.MoveToOuterDisposeScope());
                }
                // Why a gen-0 collection per step (about a millisecond): every tensor of the step is disposed above and
                // the count of live tensors stays constant, yet without it the official generator's resident memory
                // rises over its first steps before levelling off, and with it stays flat, at no measurable cost per
                // step (docs/performance.md, "Memory while sampling").
                GC.Collect(0);
            }
            // The last step's prediction is complete; its one re-masked element (in tokens) is ignored, as in the original.
            var combined = Factorization.CombineToLong(history[^1], 1 << _model.Bits, _model.Splits);
            foreach (var h in history) h.MoveToOuterDisposeScope();
            return new SampleResult(history[^1], combined.MoveToOuterDisposeScope(), history);
        }
        finally
        {
            _model.train(wasTraining);
        }
    }

    /// <summary>
    /// Decoding step <paramref name="step"/> (0-based) from tokens [B, N, m] (mask token = unknown) with labels [B].
    /// Public so that a recorded trace can be replayed step by step (teacher forcing). <paramref name="numMaskable"/>:
    /// null for full generation (the schedule over N * m elements), else the masked elements of a completion
    /// (see <see cref="Complete"/>).
    /// </summary>
    public SamplerStep Step(int step, Tensor tokens, Tensor labels, int? numMaskable = null)
    {
        var o = Options;
        double progress = (double)(step + 1) / o.NumSteps;
        long b = tokens.shape[0];
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var keepLabels = torch.zeros(b, ScalarType.Bool, tokens.device);
        Tensor logits;                                                                     // [B, N, m, E]
        float guidanceScale = 0f;
        if (o.GuidanceScale != 0.0)
        {
            // Conditional and unconditional halves in one forward: [tokens; tokens], drop mask [false; true].
            var both = _model.forward(torch.cat([tokens, tokens]), torch.cat([labels, labels]), torch.cat([keepLabels, keepLabels.logical_not()]));
            var (cond, uncond) = (both.narrow(0, 0, b), both.narrow(0, b, b));
            guidanceScale = GuidanceScaleAt(step);
            using var scale = guidanceScale.ToScalar();
            logits = cond.add((cond - uncond).mul(scale), One);
        }
        else
        {
            logits = _model.forward(tokens, labels, keepLabels);
        }
        double temperature = o.UseSamplingAnnealing ? 0.5 + 0.8 * (1 - progress) : o.SoftmaxTemperature;
        using var temperatureScalar = temperature.ToScalar();
        var probs = torch.softmax(logits.div(temperatureScalar), -1);
        var sampled = _noise.Categorical(probs, step);                                    // every element, fixed ones too
        var mask = tokens.eq(Const(_model.MaskToken));
        long numMasked = mask[0].sum().item<long>();                                       // all samples have the same count
        var pred = torch.where(mask, sampled, tokens);
        var confidence = probs.gather(-1, pred.unsqueeze(-1)).squeeze(-1)
            .masked_fill(mask.logical_not(), Const(double.PositiveInfinity));
        using var randomizeTemperature = o.RandomizeTemperature.ToScalar();
        using var noiseAnnealing = (1 - progress).ToScalar();
        var noise = _noise.Gumbel(pred.shape, step).mul(randomizeTemperature).mul(noiseAnnealing);
        confidence = torch.log(confidence).add(noise.to(confidence.device), One);
        float ratio = Masking.GetMaskingRatio(progress, o.GenMaskScheduleStrategy);
        var (maskLen, k) = NumTokensToMask(ratio, numMaskable ?? NumMaskable, numMasked);
        var sorted = confidence.view(b, -1).sort(-1).Values;
        // k = 0 (one element left before the last step) indexes -1 in the original: the largest value (+inf), so
        // everything is re-masked. Kept for fidelity in full generation (unreachable with the shipped schedules); a
        // completion re-masks nothing instead, keeping its fixed elements.
        var threshold = k >= 1 ? sorted.select(1, k - 1)                                  // [B]
            : numMaskable is null ? sorted.select(1, sorted.shape[1] + k - 1)
            : torch.full(b, Const(double.NegativeInfinity), confidence.dtype, confidence.device);
        var tokensAfter = pred.masked_fill(confidence.le(threshold.view(-1, 1, 1)), Const(_model.MaskToken));
        return new SamplerStep(step, guidanceScale, probs.MoveToOuterDisposeScope(), pred.MoveToOuterDisposeScope(),
            confidence.MoveToOuterDisposeScope(), ratio, maskLen, numMasked, k, threshold.MoveToOuterDisposeScope(),
            tokensAfter.MoveToOuterDisposeScope());
    }
}
