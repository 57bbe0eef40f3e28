namespace MaskBit.Config;

// The `model.*` sections of the original's YAML files. A property binds to the YAML key that is its name in
// snake_case (ChannelMult <-> channel_mult); a property with a default is optional in the YAML, as the
// original reads it with `config.get(key, default)`.

/// <summary><c>model.vq_model</c>: the Stage-I tokenizer (fidelity 1.1-1.5, 2, 9.2, 9.3).</summary>
public sealed record VqModelConfig
{
    /// <summary><c>vqgan+</c> (ConvVQModel), <c>maskgit</c> (legacy decoder) or <c>taming</c> (OriginalVQModel).</summary>
    public string ModelClass { get; init; } = "vqgan+";
    /// <summary><c>lookup-free</c> (LFQ) or <c>lookup</c> (classic VQ); <c>vae</c> is rejected.</summary>
    public string QuantizerType { get; init; } = "lookup-free";
    /// <summary>For LFQ the original overwrites this with 2^token_size; see <see cref="EffectiveCodebookSize"/>.</summary>
    public int CodebookSize { get; init; } = 1024;
    public int TokenSize { get; init; } = 10;
    public double CommitmentCost { get; init; } = 0.25;
    public double EntropyLossWeight { get; init; } = 0.0;
    public double EntropyLossTemperature { get; init; } = 0.01;
    public double EntropyGamma { get; init; } = 1.0;
    public int NumChannels { get; init; } = 3;
    public int HiddenChannels { get; init; } = 128;
    public int[] ChannelMult { get; init; } = [1, 1, 2, 2, 4];
    public int NumResolutions { get; init; } = 5;
    public int NumResBlocks { get; init; } = 2;
    /// <summary>Optional; the new decoder uses <see cref="NumResBlocks"/> when absent (legacy decoder always does).</summary>
    public int? NumResBlocksDecoder { get; init; }
    public bool SampleWithConv { get; init; } = true;
    /// <summary>Optional (default false): L2-normalised codebook for the <c>lookup</c> quantizer.</summary>
    public bool UseL2Normalisation { get; init; }
    /// <summary>
    /// Optional (default false): train only the decoder. The original's <c>ConvVQModel(finetune_decoder=True)</c>
    /// constructor argument (fidelity 1.1), which its scripts never pass; a key here so that a run can sharpen the decoder of
    /// a trained tokenizer without changing a single token (its generator stays valid).
    /// </summary>
    public bool FinetuneDecoder { get; init; }

    public bool IsLookupFree => QuantizerType == "lookup-free";

    /// <summary>Every script sets codebook_size = 2^token_size for LFQ; VQ keeps the configured size.</summary>
    public int EffectiveCodebookSize => IsLookupFree ? 1 << TokenSize : CodebookSize;

    /// <summary>Downsampling factor of the encoder: 2^(num_resolutions-1) (16 for every official config).</summary>
    public int DownsamplingFactor => ModelClass == "taming" ? 16 : 1 << (NumResolutions - 1);
}

/// <summary><c>model.mlm_model</c>: the Stage-II generator and its test-time sampling knobs (fidelity 4, 5, 9.4).</summary>
public sealed record MlmModelConfig
{
    /// <summary><c>lfq_bert</c> (MaskBit) or <c>bert</c> (embedding-table generator for VQ tokenizers).</summary>
    public string ModelCls { get; init; } = "lfq_bert";
    public int HiddenDim { get; init; } = 1024;
    public int Depth { get; init; } = 24;
    public int Heads { get; init; } = 16;
    public int MlpDim { get; init; } = 4096;
    public double Dropout { get; init; } = 0.1;
    /// <summary>The test-time knobs (guidance_scale, num_steps, ...): keys of this same section.</summary>
    [ConfigInline]
    public Generation.SamplingOptions Sampling { get; init; } = new();
    public string TrainMaskScheduleStrategy { get; init; } = "arccos";
    public double ClassLabelDropout { get; init; } = 0.1;
    public int CodebookSplits { get; init; } = 1;
    public bool UsePrenorm { get; init; }
    /// <summary>Written by the original's scripts (2^(bits // splits)); derived when absent.</summary>
    public int? MaskToken { get; init; }
}

/// <summary><c>model.discriminator</c>: the tokenizer's GAN discriminator (fidelity 3.1).</summary>
public sealed record DiscriminatorConfig
{
    /// <summary><c>VQGAN+Discriminator</c> (NLayerDiscriminatorv2) or <c>Original</c> (PatchGAN).</summary>
    public string Name { get; init; } = "VQGAN+Discriminator";
    public int NumChannels { get; init; } = 3;
    public int NumStages { get; init; } = 4;
    public int HiddenChannels { get; init; } = 128;
    public bool BlurResample { get; init; } = true;
    public int BlurKernelSize { get; init; } = 4;
}
