using MaskBit.Interop;

namespace MaskBit.Training;

/// <summary>
/// The files both stages keep in a checkpoint folder (fidelity 6.6: the model files, plus our training state), and how they
/// are written and read back.
/// </summary>
public static class TrainingFiles
{
    /// <summary>The trained model as a plain <c>torch.save</c> state dict, loadable by the original.</summary>
    public const string Model = "unwrapped_model/pytorch_model.bin";
    /// <summary>The EMA weights as a model state dict (the original's <c>ema_model/</c>).</summary>
    public const string EmaModel = "ema_model/pytorch_model.bin";
    /// <summary>Stage I: the loss module's trainable state (discriminator, LeCam buffers).</summary>
    public const string LossModule = "loss_module.safetensors";
    /// <summary>The (first) optimizer's moments and step count.</summary>
    public const string Optimizer = "optimizer.safetensors";
    /// <summary>Stage I: the discriminator optimizer's.</summary>
    public const string DiscriminatorOptimizer = "optimizer_1.safetensors";

    /// <summary>
    /// The EMA weights as a full model state dict in the model's order: parameters from the shadows, buffers from the
    /// live model, keys renamed as <see cref="Checkpoint.RenameKey"/> does.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> EmaStateDict(nn.Module model, Ema ema, IReadOnlyDictionary<string, string>? renames = null)
    {
        var shadows = ema.Shadows.ToDictionary(kv => kv.Key, kv => kv.Value);
        return Checkpoint.StateDict(model).Select(e => KeyValuePair.Create(Checkpoint.RenameKey(e.Key, renames), e.IsParameter ? shadows[e.Key] : e.Tensor));
    }

    /// <summary>Reads a state file, hands its tensors to <paramref name="use"/> (with the path for messages), disposes them.</summary>
    public static void WithTensors(string path, Action<IReadOnlyDictionary<string, Tensor>, string> use)
    {
        var tensors = Checkpoint.ReadStateDict(path);
        try { use(tensors, path); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    /// <summary><c>experiment.init_weight</c>: model weights only, loaded strictly (keys in <paramref name="renames"/>'
    /// naming accepted too) and copied into the EMA's shadows.</summary>
    public static void LoadWeights(nn.Module model, Ema? ema, string path, IReadOnlyDictionary<string, string>? renames = null)
    {
        Checkpoint.LoadInto(model, path, renames);
        ema?.Load(model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter), path);
    }

    /// <summary>Loads saved EMA weights (a model state dict in <paramref name="renames"/>' naming) into the EMA's shadows.</summary>
    public static void LoadEma(string path, Ema ema, IReadOnlyDictionary<string, string>? renames = null) =>
        WithTensors(path, (t, p) => ema.Load(t.ToDictionary(kv => Checkpoint.RenameKey(kv.Key, renames), kv => kv.Value), p));
}
