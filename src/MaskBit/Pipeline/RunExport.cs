using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Training;

namespace MaskBit.Pipeline;

/// <summary>
/// A finished Stage II run as a model folder (<c>&lt;run&gt;/model</c>): the frozen tokenizer, the generator's EMA weights
/// of the last checkpoint (its raw weights when the run kept no EMA), the config and the class names. Lives here, not in
/// Training, because a model folder is the pipeline's format.
/// </summary>
public static class RunExport
{
    /// <summary>The model folder's name inside the run folder.</summary>
    public const string FolderName = "model";

    /// <summary>Writes the model folder of <paramref name="run"/> unless it exists (a rerun of a finished run exports
    /// nothing new); returns a line saying which. A run stopped before <c>max_train_steps</c> is not exported.</summary>
    public static string? Write(ExperimentConfig config, string tokenizerPath, GeneratorRun run, Device? device = null)
    {
        if (run.FinalCheckpoint is not { } checkpoint) return null;
        var dir = Path.Combine(run.Path, FolderName);
        if (Directory.Exists(dir)) return $"{dir} exists; not exported again";
        var ema = Path.Combine(checkpoint, TrainingFiles.EmaModel);
        var weights = File.Exists(ema) ? ema : Path.Combine(checkpoint, TrainingFiles.Model);
        using var pipeline = MaskBitPipeline.Load(config, tokenizerPath, weights, device, run.Classes);
        pipeline.Save(dir, $"# {config.Experiment!.Name}\n\nTrained with `maskbit train-generator` to step {run.Step}{(weights == ema ? " (EMA weights)" : "")}.\n");
        return $"exported the model folder {dir}";
    }
}
