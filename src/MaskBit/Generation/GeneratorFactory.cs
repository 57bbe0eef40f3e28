using MaskBit.Config;
using MaskBit.Interop;

namespace MaskBit.Generation;

/// <summary>Builds the Stage-II generator a config names, with the arguments the original scripts pass.</summary>
public static class GeneratorFactory
{
    /// <summary>
    /// <c>model_cls</c> "lfq_bert" -> <see cref="LfqBert"/>, "bert" -> <see cref="Bert"/>, built as
    /// scripts/train_maskbit.py does: img_size = the data resolution, codebook_size = the tokenizer's (2^token_size for
    /// LFQ), input_stride = the tokenizer's downsampling factor 2^(num_resolutions-1), nclass 1000.
    /// </summary>
    public static MaskedGenerator Create(MlmModelConfig mlm, VqModelConfig vq, int imageSize) =>
        Create(mlm, vq.EffectiveCodebookSize, imageSize, vq.DownsamplingFactor);

    /// <summary>The same with the tokenizer facts given directly.</summary>
    public static MaskedGenerator Create(MlmModelConfig mlm, int codebookSize, int imageSize, int inputStride, int nclass = 1000)
    {
        int maskToken = 1 << Factorization.BitsPerSplit(codebookSize, mlm.CodebookSplits);
        if (mlm.MaskToken is int stated && stated != maskToken)
            throw new ArgumentException($"model.mlm_model.mask_token: config says {stated}, but codebook_size {codebookSize} in {mlm.CodebookSplits} splits gives {maskToken}");
        return mlm.ModelCls switch
        {
            "lfq_bert" => new LfqBert(imageSize, mlm.HiddenDim, codebookSize, mlm.CodebookSplits, mlm.Depth, mlm.Heads,
                mlm.MlpDim, mlm.Dropout, nclass, inputStride, mlm.UsePrenorm),
            "bert" => new Bert(imageSize, mlm.HiddenDim, codebookSize, mlm.CodebookSplits, mlm.Depth, mlm.Heads,
                mlm.MlpDim, mlm.Dropout, nclass, inputStride, mlm.UsePrenorm),
            var other => throw new ArgumentException($"model.mlm_model.model_cls: unknown generator '{other}' (expected lfq_bert or bert)"),
        };
    }

    /// <summary>
    /// Builds the generator and fills it strictly from a released or trained file (the original's loaders rename
    /// <c>token_emb.*</c> to <c>input_proj.*</c> first); returned in eval mode. A file made for another token width
    /// than the config's tokenizer is named as such before any shape check. The number of classes is read from the
    /// file's <c>class_emb.weight</c> (rows - 1: the last row is "no class"; 1000 for every released generator).
    /// </summary>
    public static MaskedGenerator Load(MlmModelConfig mlm, VqModelConfig vq, int imageSize, string path, Device? device = null)
    {
        using var file = StateDictFile.Open(path);
        return Load(mlm, vq, imageSize, file, device);
    }

    /// <summary><see cref="Load(MlmModelConfig, VqModelConfig, int, string, Device?)"/> from an open file, read one
    /// tensor at a time into the new model (no second copy of the weights).</summary>
    public static MaskedGenerator Load(MlmModelConfig mlm, VqModelConfig vq, int imageSize, StateDictFile file, Device? device = null)
    {
        var renamed = file.Keys.Select(k => Checkpoint.RenameKey(k, LfqBert.ReleasedKeyRenames)).ToList();
        int index = renamed.IndexOf("input_proj.weight");
        if (mlm.ModelCls == "lfq_bert" && index >= 0 && file.Shape(file.Keys[index]) is { Length: 2 } inputShape)
        {
            long fileBits = inputShape[1];
            int configBits = Factorization.BitsPerSplit(vq.EffectiveCodebookSize, mlm.CodebookSplits) * mlm.CodebookSplits;
            if (fileBits != configBits)
                throw new CheckpointException($"{file.Path}: generator for {fileBits}-bit tokens, but the tokenizer of the config has {configBits} bits (model.vq_model.token_size)");
        }
        int nclass = file.ContainsKey("class_emb.weight") && file.Shape("class_emb.weight") is { Length: 2 } classShape ? (int)classShape[0] - 1 : 1000;
        var model = Create(mlm, vq.EffectiveCodebookSize, imageSize, vq.DownsamplingFactor, nclass);
        try
        {
            Checkpoint.LoadInto(model, file, model.FileKeyRenames);
            if (device is not null) model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
