namespace MaskBit.Training;

/// <summary>
/// PyTorch's AdamW (decoupled weight decay, bias-corrected moments, no amsgrad), as the original's training scripts
/// use it, written out so that its state is ours: the moments are named by parameter, saved in checkpoints and
/// restored exactly, and the learning rate is set per step by the schedule. Update order and rounding follow
/// PyTorch's single-tensor implementation: decay, moments, then <c>p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)</c>.
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly List<(string Name, Parameter Param)> _params;
    readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> _state = new();

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }
    /// <summary>Updates made so far (PyTorch keeps one such count per parameter; they are always equal here).</summary>
    public long Steps { get; private set; }

    public AdamW(IEnumerable<(string name, Parameter parameter)> parameters, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8, double weightDecay = 1e-2)
    {
        _params = parameters.Select(p => (p.name, p.parameter)).ToList();
        (Beta1, Beta2, Epsilon, WeightDecay) = (beta1, beta2, epsilon, weightDecay);
    }

    /// <summary>The optimizer a config's <c>optimizer</c> section describes (only <c>adamw</c>, as every config).</summary>
    public static AdamW FromConfig(Config.ExperimentConfig config, IEnumerable<(string name, Parameter parameter)> parameters)
    {
        if ((config.Optimizer?.Name ?? "adamw") != "adamw")
            throw new Config.ConfigException($"optimizer.name: only adamw is supported, got '{config.Optimizer!.Name}'");
        var o = config.Optimizer?.Params ?? new Config.OptimizerParamsConfig();
        return new AdamW(parameters, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay);
    }

    public IReadOnlyList<(string Name, Parameter Param)> Parameters => _params;

    /// <summary>One update with learning rate <paramref name="lr"/>; parameters without a gradient are skipped.</summary>
    public void Step(double lr)
    {
        Steps++;
        double bc1 = 1 - Math.Pow(Beta1, Steps), bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, Steps));
        using var decay = (1 - lr * WeightDecay).ToScalar();
        using var bc2 = bc2Sqrt.ToScalar();
        using var stepSize = (-(lr / bc1)).ToScalar();
        using var _ = no_grad();
        foreach (var (name, p) in _params)
        {
            var grad = p.grad;
            if (grad is null) continue;
            if (!_state.TryGetValue(name, out var s))
                _state[name] = s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
            using var scope = NewDisposeScope();
            p.mul_(decay);
            s.ExpAvg.mul_(Const(Beta1)).add_(grad, alpha: Const(1 - Beta1));
            s.ExpAvgSq.mul_(Const(Beta2)).addcmul_(grad, grad, value: Const(1 - Beta2));
            var denom = s.ExpAvgSq.sqrt().div(bc2).add_(Const(Epsilon), One);
            p.addcdiv_(s.ExpAvg, denom, value: stepSize);
        }
    }

    /// <summary>Sets every gradient to none (PyTorch's <c>zero_grad(set_to_none=True)</c>).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in _params)
            if (p.grad is { } g) { p.grad = null; g.Dispose(); }
    }

    /// <summary>The state as named tensors: <c>&lt;param&gt;.exp_avg</c>, <c>&lt;param&gt;.exp_avg_sq</c>, and <c>step</c>.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateDict()
    {
        yield return KeyValuePair.Create("step", tensor(Steps));
        foreach (var (name, _) in _params)
            if (_state.TryGetValue(name, out var s))
            {
                yield return KeyValuePair.Create(name + ".exp_avg", s.ExpAvg);
                yield return KeyValuePair.Create(name + ".exp_avg_sq", s.ExpAvgSq);
            }
    }

    /// <summary>The moments of one parameter (null before its first update).</summary>
    public (Tensor ExpAvg, Tensor ExpAvgSq)? State(string name) => _state.TryGetValue(name, out var s) ? s : null;

    /// <summary>Restores <see cref="StateDict"/>; a key of an unknown parameter or a shape mismatch is an error naming <paramref name="source"/>.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, string source)
    {
        var byName = _params.ToDictionary(p => p.Name, p => p.Param);
        Steps = state.TryGetValue("step", out var step) ? step.item<long>() : throw new Interop.CheckpointException($"{source}: no optimizer step count");
        foreach (var s in _state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        _state.Clear();
        foreach (var key in state.Keys.Where(k => k.EndsWith(".exp_avg", StringComparison.Ordinal)))
        {
            var name = key[..^".exp_avg".Length];
            var p = byName.TryGetValue(name, out var q) ? q : throw new Interop.CheckpointException($"{source}: optimizer state for unknown parameter {name}");
            var sq = state.TryGetValue(name + ".exp_avg_sq", out var v) ? v : throw new Interop.CheckpointException($"{source}: no {name}.exp_avg_sq");
            if (!state[key].shape.SequenceEqual(p.shape) || !sq.shape.SequenceEqual(p.shape))
                throw new Interop.CheckpointException($"{source}: optimizer state of {name} does not match its shape [{string.Join(", ", p.shape)}]");
            _state[name] = (state[key].to(p.dtype, p.device).clone().DetachFromDisposeScope(), sq.to(p.dtype, p.device).clone().DetachFromDisposeScope());
        }
    }

    public void Dispose()
    {
        foreach (var s in _state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        _state.Clear();
    }
}

/// <summary>Gradient clipping as <c>torch.nn.utils.clip_grad_norm_</c>.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/> (coefficient
    /// max / (norm + 1e-6), clamped to 1) and returns the norm before clipping. Parameters without gradients count 0.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0.0;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var total = stack(grads.Select(g => g.detach().norm()).ToArray()).norm();
        using var max = maxNorm.ToScalar();
        var coef = total.add(Const(1e-6), One).reciprocal().mul(max).clamp_max(Const(1.0));
        foreach (var g in grads) g.mul_(coef);
        return total.item<float>();
    }

    /// <summary>The global L2 norm of the gradients without clipping.</summary>
    public static double GradNorm(IEnumerable<Parameter> parameters) => ClipGradNorm(parameters, double.PositiveInfinity);
}
