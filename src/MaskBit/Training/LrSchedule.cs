namespace MaskBit.Training;

/// <summary>
/// The original's learning-rate schedules (utils/lr_schedulers.py, fidelity 6.3) as the multiplier f(s) of the base rate
/// that PyTorch's <c>LambdaLR</c> applies. The optimizer update of step g (0-based) uses <c>base * f(g)</c>, so the
/// first update has rate 0 under every warm-up schedule (fidelity Q15, kept: the released models were trained so).
/// </summary>
public sealed record LrSchedule(string Name, int WarmupSteps, int TrainingSteps, double MinimumRate = 0.1, double BaseLr = 1e-4,
    int NumCycles = 1, double Power = 1.0, double LrEnd = 1e-7)
{
    public static readonly IReadOnlyList<string> Names =
        ["cosine_with_minimum", "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"];

    /// <summary>
    /// The schedule of a config (<c>lr_scheduler</c>, <c>training.max_train_steps</c>) for the base rate
    /// <paramref name="learningRate"/>, multiplied by the per-process batch when <c>optimizer.params.scale_lr</c>.
    /// </summary>
    public static LrSchedule FromConfig(Config.ExperimentConfig config, double learningRate)
    {
        var training = config.Training ?? new Config.TrainingConfig();
        var lr = config.LrScheduler ?? new Config.LrSchedulerConfig();
        double scale = config.Optimizer?.Params?.ScaleLr == true ? training.PerGpuBatchSize * training.GradientAccumulationSteps : 1.0;
        return new LrSchedule(lr.Scheduler, lr.Params?.WarmupSteps ?? 5000, training.MaxTrainSteps, BaseLr: learningRate * scale).Validate();
    }

    /// <summary>Throws for an unknown name (named in the message), as the original's <c>SchedulerType(name)</c>.</summary>
    public LrSchedule Validate() => Names.Contains(Name) ? this
        : throw new ArgumentException($"unknown lr_scheduler.scheduler '{Name}' (expected one of {string.Join(", ", Names)})");

    /// <summary>The multiplier f(s) for scheduler step s (float64, as the Python lambdas compute it).</summary>
    public double Multiplier(long step)
    {
        double s = step, w = WarmupSteps, t = TrainingSteps;
        if (Name == "constant") return 1.0;
        if (s < w) return s / Math.Max(1.0, w);
        double progress = (s - w) / Math.Max(1.0, t - w);
        switch (Name)
        {
            case "constant_with_warmup": return 1.0;
            case "linear": return Math.Max(0.0, (t - s) / Math.Max(1.0, t - w));
            case "cosine": return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
            case "cosine_with_minimum":
                double cos = 0.5 * (1.0 + Math.Cos(Math.PI * progress));
                return Math.Max(0.0, cos + MinimumRate - MinimumRate * cos);
            case "cosine_with_restarts":
                return progress >= 1.0 ? 0.0 : Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * (NumCycles * progress % 1.0))));
            case "polynomial":
                if (s > t) return LrEnd / BaseLr;
                double remaining = 1 - (s - w) / (t - w);
                return ((BaseLr - LrEnd) * Math.Pow(remaining, Power) + LrEnd) / BaseLr;
            default:
                Validate();
                throw new InvalidOperationException();
        }
    }

    /// <summary>The learning rate of optimizer update <paramref name="step"/>.</summary>
    public double LearningRate(long step) => BaseLr * Multiplier(step);
}
