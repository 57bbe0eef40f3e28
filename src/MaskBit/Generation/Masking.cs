namespace MaskBit.Generation;

/// <summary>Train-time token masking and generation-time mask schedules (modeling/modules/masking.py).</summary>
public static class Masking
{
    static readonly string[] TrainModes = ["linear", "square", "cosine", "arccos"];
    /// <summary>The schedules <see cref="GetMaskingRatio"/> knows (gen_mask_schedule_strategy).</summary>
    public static readonly IReadOnlyList<string> GenerationModes = ["root", "square", "cosine", "arccos", "linear"];

    /// <summary>
    /// Masks every (position, split) element independently: per sample r ~ U[0,1) * (1 - minMaskingRatio), then an
    /// element is masked iff U[0,1) &lt; v(r) (v = the <paramref name="mode"/> schedule). Draws exactly the original's
    /// two <c>torch.rand</c> calls, on the CPU, from <paramref name="rng"/> (the global generator when null).
    /// tokens: [B, N, splits] int64 -> (masked tokens [B, N, splits], mask [B, N, splits] bool).
    /// </summary>
    public static (Tensor maskedTokens, Tensor mask) GetMaskTokens(Tensor tokens, long maskToken, string mode = "arccos",
        Generator? rng = null, double minMaskingRatio = 0.0)
    {
        CheckMode(mode, TrainModes);
        using var scope = NewDisposeScope();
        var rDraw = torch.rand([tokens.shape[0]], ScalarType.Float32, generator: rng);
        var elementDraws = torch.rand(tokens.shape, ScalarType.Float32, generator: rng);
        var (masked, mask) = MaskTokensFromDraws(tokens, maskToken, mode, rDraw, elementDraws, minMaskingRatio);
        return (masked.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// <see cref="GetMaskTokens"/> with its two uniform draws given: <paramref name="rDraw"/> [B] and
    /// <paramref name="elementDraws"/> [B, N, splits], both in [0, 1).
    /// </summary>
    public static (Tensor maskedTokens, Tensor mask) MaskTokensFromDraws(Tensor tokens, long maskToken, string mode,
        Tensor rDraw, Tensor elementDraws, double minMaskingRatio = 0.0)
    {
        CheckMode(mode, TrainModes);
        using var scope = NewDisposeScope();
        var r = rDraw.mul(Const(1 - minMaskingRatio));
        var maskProbability = Schedule(r, mode);
        // The draws are CPU tensors (the original draws on the CPU); the mask follows the tokens' device.
        var mask = elementDraws.lt(maskProbability.view(-1, 1, 1)).to(tokens.device);
        var masked = tokens.masked_fill(mask, Const(maskToken));
        return (masked.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    /// <summary>Per-sample masking probability v(r) of the train-time schedule (linear, square, cosine, arccos).</summary>
    public static Tensor TrainMaskProbability(Tensor r, string mode)
    {
        CheckMode(mode, TrainModes);
        return Schedule(r, mode);
    }

    /// <summary>
    /// Fraction of elements left masked after a generation step at <paramref name="progress"/> = (i+1)/T, in
    /// float32 as the original computes it (<c>torch.tensor(progress)</c>), clamped to [1e-6, 1].
    /// </summary>
    public static float GetMaskingRatio(double progress, string mode = "arccos")
    {
        CheckMode(mode, GenerationModes);
        using var scope = NewDisposeScope();
        var r = torch.tensor((float)progress);
        return Schedule(r, mode).clamp(Const(1e-6), Const(1.0)).item<float>();
    }

    // The schedules, written with the original's operation order so that float32 rounding matches.
    static Tensor Schedule(Tensor r, string mode) => mode switch
    {
        "root" => r.pow(Const(0.5)).negative().add(Const(1), One),
        "square" => r.pow(Const(2)).negative().add(Const(1), One),
        "cosine" => torch.cos(r.mul(Const(Math.PI)).mul(Const(0.5))),
        "arccos" => torch.acos(r).div(Const(Math.PI * 0.5)),
        "linear" => r.negative().add(Const(1), One),
        _ => throw new System.Diagnostics.UnreachableException(mode), // callers run CheckMode first
    };

    static void CheckMode(string mode, IReadOnlyList<string> allowed)
    {
        if (!allowed.Contains(mode))
            throw new ArgumentException($"unknown mask schedule '{mode}': expected one of {string.Join(", ", allowed)}");
    }
}
