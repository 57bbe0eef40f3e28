namespace MaskBit.Training;

/// <summary>After each optimizer step: the new global step, the run's last step, the step's total loss and the
/// recent throughput; what a progress bar shows.</summary>
public readonly record struct TrainingProgress(long Step, long MaxSteps, double Loss, double ImagesPerSecond);

/// <summary>What a training run needs beyond its config: where to write, the device, the callbacks that show progress.</summary>
public sealed record TrainingRunOptions
{
    /// <summary>The run folder (default: <c>runs/&lt;experiment.name&gt;</c>).</summary>
    public required string OutputDir { get; init; }
    public Device? Device { get; init; }
    /// <summary>Stop after this global step even if <c>training.max_train_steps</c> is later (a checkpoint is written).</summary>
    public long? StopAtStep { get; init; }
    /// <summary>The perceptual network's weight file (<c>losses.perceptual_loss: resnet50</c>: torchvision's ResNet-50 state dict).</summary>
    public string? PerceptualWeights { get; init; }
    public Action<TrainingProgress>? OnStep { get; init; }
    /// <summary>Every log line (also written to the run's <c>log.txt</c>).</summary>
    public Action<string>? OnLog { get; init; }
}

/// <summary>Where a Stage II run stands when <see cref="GeneratorTrainer.Run"/> returns: its folder, its step, the
/// checkpoint of its last step once <c>training.max_train_steps</c> is reached (null when it stopped before), and the
/// data's class names.</summary>
public sealed record GeneratorRun(string Path, long Step, string? FinalCheckpoint, Generation.ClassNames Classes);
