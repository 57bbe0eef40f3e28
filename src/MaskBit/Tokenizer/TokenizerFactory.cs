using MaskBit.Config;
using MaskBit.Interop;

namespace MaskBit.Tokenizer;

/// <summary>Builds the tokenizer a <c>model.vq_model</c> section describes (fidelity 1.1).</summary>
public static class TokenizerFactory
{
    public static ITokenizer Create(VqModelConfig config) => config.ModelClass switch
    {
        "vqgan+" => new ConvVqModel(config),
        "maskgit" => new ConvVqModel(config, legacy: true),
        "taming" => new TamingVqModel(),
        _ => throw new ArgumentException($"vq_model.model_class must be 'vqgan+', 'maskgit' or 'taming', got '{config.ModelClass}'"),
    };

    /// <summary>
    /// Builds the tokenizer and fills it strictly from a released or trained checkpoint (the original's
    /// <c>load_pretrained</c>): a directory means its <c>pytorch_model.bin</c>; the model is returned in eval mode.
    /// </summary>
    public static ITokenizer Load(VqModelConfig config, string checkpointPath, Device? device = null)
    {
        using var file = StateDictFile.Open(checkpointPath);
        return Load(config, file, device);
    }

    /// <summary><see cref="Load(VqModelConfig, string, Device?)"/> from an open file, read one tensor at a time into
    /// the new model (no second copy of the weights).</summary>
    public static ITokenizer Load(VqModelConfig config, StateDictFile file, Device? device = null)
    {
        var tokenizer = Create(config);
        var module = tokenizer.Module;
        try
        {
            Checkpoint.LoadInto(module, file, dropKey: DroppedKeys(config));
            if (device is not null) module.to(device);
            module.eval();
            return tokenizer;
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Checkpoint keys the original drops before loading this tokenizer (Taming: the Lightning loss module).</summary>
    public static Func<string, bool>? DroppedKeys(VqModelConfig config) =>
        config.ModelClass == "taming" ? key => key.StartsWith("loss.", StringComparison.Ordinal) : null;
}
