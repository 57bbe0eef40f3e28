using System.Globalization;
using System.Text.Json;
using MaskBit.Config;
using MaskBit.Distributed;
using MaskBit.Imaging;
using MaskBit.Interop;

namespace MaskBit.Training;

/// <summary>What a checkpoint's <c>metadata.json</c> records: the original's <c>global_step</c> plus the data position.</summary>
public sealed record CheckpointMetadata(long GlobalStep, int DataEpoch, int DataBatch);

/// <summary>
/// A training run's folder (default <c>runs/&lt;experiment.name&gt;</c>): <c>config.yaml</c>, <c>log.txt</c>, TensorBoard
/// event files under <c>logs/</c>, image strips, and <c>checkpoint-&lt;step&gt;/</c> folders. A checkpoint is written
/// into a temporary folder, its files hashed (<see cref="FileDigests"/>), then renamed: a folder named
/// <c>checkpoint-N</c> is complete. Resuming takes the newest checkpoint that verifies and says which it skipped.
/// Nothing already in the folder is overwritten: a run of another model config is refused.
/// </summary>
public sealed class RunFolder : IDisposable
{
    public const string ConfigFile = "config.yaml";
    public const string LogFile = "log.txt";
    public const string MetadataFile = "metadata.json";
    const string Prefix = "checkpoint-";

    public string Path { get; }
    /// <summary>Whether this process writes the folder: rank 0 of a job (the others read checkpoints and wait).</summary>
    public bool Writes => _group.IsMain;
    readonly ProcessGroup _group;
    readonly StreamWriter? _log;
    readonly Lazy<TorchSharp.Modules.SummaryWriter> _tensorboard;

    /// <summary>Opens (or creates) the run folder for <paramref name="config"/>; refuses a folder holding another model.
    /// Every process of <paramref name="group"/> (default: this job's) opens it; rank 0 alone creates and writes it.</summary>
    public RunFolder(string path, ExperimentConfig config, ProcessGroup? group = null)
    {
        _group = group ?? ProcessGroup.World;
        Path = System.IO.Path.GetFullPath(path);
        _tensorboard = new(() => torch.utils.tensorboard.SummaryWriter(System.IO.Path.Combine(Path, "logs")));
        if (!Writes)
        {
            _group.Barrier(); // rank 0 has made the folder
            return;
        }
        if (File.Exists(Path)) throw new IOException($"{path}: is a file, expected a run folder");
        Directory.CreateDirectory(Path);
        var configPath = System.IO.Path.Combine(Path, ConfigFile);
        if (File.Exists(configPath))
        {
            var existing = ConfigLoader.Load(configPath);
            string Model(ExperimentConfig c) => ConfigWriter.ToYaml(new ExperimentConfig { Model = c.Model });
            if (Model(existing) != Model(config))
                throw new ConfigException($"{configPath}: the run folder holds a run of another model config (model.* differs); choose another --output");
        }
        else ConfigWriter.Save(config, configPath);
        _log = new StreamWriter(new FileStream(System.IO.Path.Combine(Path, LogFile), FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        _group.Barrier();
    }

    /// <summary>Appends a time-stamped line to <c>log.txt</c> (the original's format) and returns it; null in a process
    /// that does not write the folder.</summary>
    public string? Log(string message)
    {
        if (_log is null) return null;
        var line = $"[{DateTime.Now:MM/dd HH:mm:ss}] {message}";
        _log.WriteLine(line);
        return line;
    }

    public void Scalar(string tag, double value, long step)
    {
        if (Writes) _tensorboard.Value.add_scalar(tag, (float)value, (int)step);
    }

    /// <summary>An image [3, H, W] in [0, 1] to TensorBoard.</summary>
    public void Image(string tag, Tensor image, long step)
    {
        if (!Writes) return;
        // add_img(tag, tensor, step)'s conversion (CHW -> HWC, * 255, clip, uint8, PNG) with kept Scalars, then its file overload.
        byte[] png;
        using (NewDisposeScope())
        {
            var hwc = image.detach().cpu().clamp(Const(0), Const(1)).permute(1, 2, 0);
            int scale = hwc.dtype is ScalarType.Byte or ScalarType.Int8 ? 1 : 255;
            var bytes = hwc.to_type(ScalarType.Float32).mul(Const(scale)).clip(Const(0), Const(255)).to_type(ScalarType.Byte).contiguous();
            png = Imaging.Images.EncodePng(new RgbImage((int)bytes.shape[1], (int)bytes.shape[0], bytes.data<byte>().ToArray()));
        }
        var file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"maskbit-{Guid.NewGuid():N}.png");
        File.WriteAllBytes(file, png);
        try { _tensorboard.Value.add_img(tag, file, (int)step); }
        finally { File.Delete(file); }
    }

    public string CheckpointPath(long step) => System.IO.Path.Combine(Path, Prefix + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// Writes the checkpoint of <c>metadata.GlobalStep</c>: <paramref name="write"/> fills a temporary folder, then the metadata and
    /// the digests are added and the folder is renamed to <c>checkpoint-&lt;step&gt;</c>. Returns its path.
    /// </summary>
    public string SaveCheckpoint(CheckpointMetadata metadata, Action<string> write)
    {
        var final = CheckpointPath(metadata.GlobalStep);
        if (!Writes)
        {
            _group.Barrier(); // rank 0 has written it
            return final;
        }
        Write(final, metadata, write);
        _group.Barrier(); // (a failure ends the job instead: App aborts it)
        return final;
    }

    void Write(string final, CheckpointMetadata metadata, Action<string> write)
    {
        if (Directory.Exists(final)) throw new IOException($"{final}: exists (nothing is overwritten)");
        var temp = System.IO.Path.Combine(Path, $".{Prefix}{metadata.GlobalStep}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            AtomicFile.WriteAllText(System.IO.Path.Combine(temp, MetadataFile), JsonSerializer.Serialize(new Dictionary<string, long>
            {
                ["global_step"] = metadata.GlobalStep, ["data_epoch"] = metadata.DataEpoch, ["data_batch"] = metadata.DataBatch,
            }));
            FileDigests.Write(temp);
            Directory.Move(temp, final);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>The checkpoint folders, newest first (by the step in the name, as the original sorts them).</summary>
    public IEnumerable<(string Path, long Step)> Checkpoints() =>
        Directory.GetDirectories(Path, Prefix + "*")
            .Select(d => (d, long.TryParse(System.IO.Path.GetFileName(d)[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : -1))
            .Where(c => c.Item2 >= 0).OrderByDescending(c => c.Item2);

    /// <summary>
    /// Reads a checkpoint's metadata after verifying its digests (a missing, truncated or changed file is refused with
    /// a <see cref="CheckpointException"/> naming it).
    /// </summary>
    public static CheckpointMetadata Verify(string checkpoint, bool skipDigests = false)
    {
        FileDigests.Verify(checkpoint, skipDigests);
        var path = System.IO.Path.Combine(checkpoint, MetadataFile);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            return new CheckpointMetadata(root.GetProperty("global_step").GetInt64(),
                root.TryGetProperty("data_epoch", out var e) ? e.GetInt32() : 0, root.TryGetProperty("data_batch", out var b) ? b.GetInt32() : 0);
        }
        catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointException($"{path}: unreadable checkpoint metadata: {ex.Message.ReplaceLineEndings(" ")}", ex);
        }
    }

    /// <summary>
    /// The newest checkpoint that verifies, falling back past damaged ones: each is renamed to
    /// <c>checkpoint-N.damaged-&lt;time&gt;</c> (kept for inspection, out of the way of the step that rewrites it) and
    /// reported through <paramref name="onSkipped"/>; null when there is none.
    /// </summary>
    public (string Path, CheckpointMetadata Metadata)? LatestValidCheckpoint(Action<string> onSkipped)
    {
        foreach (var (path, _) in Checkpoints())
        {
            try { return (path, Verify(path)); }
            catch (CheckpointException e)
            {
                var aside = $"{path}.damaged-{DateTime.UtcNow:yyyyMMddHHmmss}";
                Directory.Move(path, aside);
                onSkipped($"skipping damaged checkpoint {path} (moved to {System.IO.Path.GetFileName(aside)}): {e.Message}");
            }
        }
        return null;
    }

    /// <summary>The files <see cref="Start"/> would read exist (and an init checkpoint verifies): trainers call this
    /// before they make the run folder, so a mistyped path or a damaged checkpoint leaves nothing behind.</summary>
    public static void CheckStartFiles(ExperimentSettings experiment)
    {
        if (!string.IsNullOrEmpty(experiment.InitWeight) && !File.Exists(experiment.InitWeight) && !Directory.Exists(experiment.InitWeight))
            throw new ConfigException($"experiment.init_weight: {experiment.InitWeight} does not exist");
        if (!string.IsNullOrEmpty(experiment.InitCheckpoint))
        {
            if (!Directory.Exists(experiment.InitCheckpoint)) throw new ConfigException($"experiment.init_checkpoint: {experiment.InitCheckpoint} does not exist");
            Verify(experiment.InitCheckpoint);
        }
    }

    /// <summary>
    /// Where a run starts, in the original's order: <c>experiment.init_weight</c> (model weights only, step 0),
    /// <c>experiment.init_checkpoint</c> (another run's checkpoint folder, with its step), then, when
    /// <c>experiment.resume</c>, this run's newest valid checkpoint, which wins. Returns the data position to continue
    /// from. <paramref name="loadWeights"/> gets a weights file, <paramref name="load"/> a checkpoint folder, its step and
    /// whether to restore the optimizers. The files were checked by <see cref="CheckStartFiles"/> before the folder was made.
    /// </summary>
    public Data.LoaderPosition Start(ExperimentSettings experiment, Action<string> loadWeights, Action<string, long, bool> load, Action<string> log)
    {
        // Rank 0 first: it alone moves damaged checkpoints aside; the others then find the checkpoint it chose.
        if (!Writes) _group.Barrier();
        var position = StartHere(experiment, loadWeights, load, log);
        if (Writes) _group.Barrier();
        return position;
    }

    Data.LoaderPosition StartHere(ExperimentSettings experiment, Action<string> loadWeights, Action<string, long, bool> load, Action<string> log)
    {
        if (!string.IsNullOrEmpty(experiment.InitWeight))
        {
            loadWeights(experiment.InitWeight);
            log($"initialised the weights from {experiment.InitWeight}");
        }
        if (!string.IsNullOrEmpty(experiment.InitCheckpoint))
        {
            var meta = Verify(experiment.InitCheckpoint, skipDigests: true); // CheckStartFiles verified the digests
            load(experiment.InitCheckpoint, meta.GlobalStep, !experiment.DontResumeOptimizer);
            log($"initialised from {experiment.InitCheckpoint} at step {meta.GlobalStep}");
        }
        if (experiment.Resume && LatestValidCheckpoint(log) is var (path, metadata))
        {
            load(path, metadata.GlobalStep, !experiment.DontResumeOptimizer);
            var position = new Data.LoaderPosition(metadata.DataEpoch, metadata.DataBatch);
            log($"resumed from {path} (step {metadata.GlobalStep}, data {position})");
            return position;
        }
        return default;
    }

    public void Dispose()
    {
        _log?.Dispose(); // the TensorBoard writer flushes each event as it is added
    }
}
