using MaskBit.Config;

namespace MaskBit.Generator;

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
}
