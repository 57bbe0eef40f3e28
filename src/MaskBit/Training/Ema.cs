namespace MaskBit.Training;

/// <summary>
/// Exponential moving average of a model's parameters (the original's <c>EMAModel</c>, fidelity 6.4): shadow copies of the
/// parameters (buffers are not tracked), updated after every optimizer step with decay
/// <c>min((1 + s) / (10 + s), decay)</c>, s = updates - 1 (the first update copies). Used to evaluate and sample
/// during training (<see cref="Swap"/>) and saved in each checkpoint as a plain model state dict.
/// Difference from the original, deliberately: the decay survives a resume (the original's load hook silently
/// replaces 0.999 by its class default 0.9999, fidelity Q14), since <see cref="Decay"/> comes from the config each run.
/// </summary>
public sealed class Ema : IDisposable
{
    readonly List<(string Name, Parameter Param, Tensor Shadow)> _entries;

    public double Decay { get; }
    /// <summary>Updates made so far (the original's <c>optimization_step</c>).</summary>
    public long OptimizationStep { get; set; }

    public Ema(nn.Module model, double decay = 0.999)
    {
        Decay = decay;
        using var _ = no_grad();
        _entries = model.named_parameters().Select(p => (p.name, p.parameter, p.parameter.detach().clone().DetachFromDisposeScope())).ToList();
    }

    /// <summary>The decay of update <paramref name="k"/> (1-based): 0 for the first (a copy), then min((1+s)/(10+s), decay).</summary>
    public static double DecayAt(long k, double decay)
    {
        long s = Math.Max(0, k - 1);
        return s <= 0 ? 0.0 : Math.Min((1.0 + s) / (10.0 + s), decay);
    }

    /// <summary>One update after an optimizer step: shadow -= (1 - d) * (shadow - param); frozen parameters are copied.</summary>
    public void Step()
    {
        OptimizationStep++;
        double d = DecayAt(OptimizationStep, Decay);
        using var rate = (1 - d).ToScalar();
        using var _ = no_grad();
        foreach (var (_, p, shadow) in _entries)
        {
            if (p.requires_grad) shadow.sub_((shadow - p).mul_(rate));
            else shadow.copy_(p);
        }
    }

    /// <summary>The shadow weights by parameter name (live tensors: clone to keep).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Shadows => _entries.Select(e => KeyValuePair.Create(e.Name, e.Shadow));

    /// <summary>Replaces the shadows by saved ones (a checkpoint's EMA state dict); every parameter must be present.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> shadows, string source)
    {
        using var _ = no_grad();
        foreach (var (name, _, shadow) in _entries)
        {
            var saved = shadows.TryGetValue(name, out var t) ? t : throw new Interop.CheckpointException($"{source}: no EMA weight for {name}");
            if (!saved.shape.SequenceEqual(shadow.shape)) throw new Interop.CheckpointException($"{source}: EMA weight {name} has shape [{string.Join(", ", saved.shape)}], expected [{string.Join(", ", shadow.shape)}]");
            shadow.copy_(saved);
        }
    }

    /// <summary>Runs <paramref name="action"/> with the EMA weights in the model (when there is an EMA), then puts the
    /// trained weights back, also when it throws. The model's mode is the next training step's to set (fidelity Q13).</summary>
    public static void WithShadowWeights(Ema? ema, Action action)
    {
        ema?.Swap();
        try { action(); }
        finally { ema?.Swap(); }
    }

    /// <summary>Swaps model and shadow weights (the original's store + copy_to, and restore): call, use, call again.</summary>
    public void Swap()
    {
        using var _ = no_grad();
        foreach (var (_, p, shadow) in _entries)
        {
            using var tmp = p.detach().clone();
            p.copy_(shadow);
            shadow.copy_(tmp);
        }
    }

    public void Dispose()
    {
        foreach (var e in _entries) e.Shadow.Dispose();
    }
}
