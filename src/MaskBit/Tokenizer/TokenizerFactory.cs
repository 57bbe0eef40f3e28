using MaskBit.Config;
using MaskBit.Interop;

namespace MaskBit.Tokenizer;

/// <summary>Builds the tokenizer a <c>model.vq_model</c> section describes (spec 1.1).</summary>
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
    public static ITokenizer Load(VqModelConfig config, string checkpointPath, Device? device = null) =>
        Load(config, Checkpoint.ReadStateDict(checkpointPath), checkpointPath, device);

    /// <summary><see cref="Load(VqModelConfig, string, Device?)"/> from a state dict already read from
    /// <paramref name="path"/> (which names it in errors); disposes its tensors.</summary>
    public static ITokenizer Load(VqModelConfig config, OrderedDictionary<string, Tensor> file, string path, Device? device = null)
    {
        try
        {
            var tokenizer = Create(config);
            var module = tokenizer.Module;
            Checkpoint.LoadInto(module, file, path, dropKey: DroppedKeys(config));
            if (device is not null) module.to(device);
            module.eval();
            return tokenizer;
        }
        finally
        {
            foreach (var t in file.Values) t.Dispose();
        }
    }

    /// <summary>Checkpoint keys the original drops before loading this tokenizer (Taming: the Lightning loss module).</summary>
    public static Func<string, bool>? DroppedKeys(VqModelConfig config) =>
        config.ModelClass == "taming" ? key => key.StartsWith("loss.", StringComparison.Ordinal) : null;
}
