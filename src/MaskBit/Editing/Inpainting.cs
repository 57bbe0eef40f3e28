using MaskBit.Generation;
using MaskBit.Pipeline;

namespace MaskBit.Editing;

/// <summary>
/// Inpainting and class-conditional edits: encode, regenerate the tokens a <see cref="TokenMask"/> covers with the
/// generator (the sampler's settings, the number of steps scaled to the masked share), decode. Tokens outside the mask
/// never change. A mask covering every token regenerates the whole image (class-conditional generation); an empty
/// mask is an error.
/// </summary>
public static class Inpainting
{
    /// <summary>
    /// images [B, 3, S, S] in [0, 1] -> the edit, every image with the same mask and class. <paramref name="blend"/>
    /// puts the input pixels back on the tokens outside the mask (the decoder blurs across token borders otherwise).
    /// <paramref name="onProgress"/> sees every decoding step (Batch 1 of 1).
    /// </summary>
    public static EditResult Inpaint(this MaskBitPipeline pipeline, Tensor images, TokenMask mask, int classLabel,
        SamplingOptions? options = null, ulong seed = 42, bool blend = false, Action<GenerationProgress>? onProgress = null)
    {
        EditCore.CheckImages(pipeline, images);
        EditCore.CheckGenerator(pipeline, classLabel);
        EditCore.CheckGrid(pipeline, mask);
        options = (options ?? pipeline.Sampling).Validate();
        using var scope = NewDisposeScope();
        var tokens = pipeline.Tokenize(images);                                            // [B, g*g]
        using var noise = new SeededSamplerNoise(seed, pipeline.Device);
        var edited = EditCore.Resample(pipeline, tokens, mask, classLabel, options, noise,
            (step, steps) => onProgress?.Invoke(new GenerationProgress(step, steps, 1, 1)));
        var result = pipeline.Detokenize(edited);                                         // [B, 3, S, S]
        if (blend)
        {
            var keep = mask.ToImage(pipeline.Tokenizer.DownsamplingFactor).lt(Const(0.5)); // [3, S, S]
            result = torch.where(keep, images.cpu(), result);
        }
        int g = pipeline.TokenGridSize;
        return new EditResult(result.MoveToOuterDisposeScope(), edited.view(-1, g, g).MoveToOuterDisposeScope(), mask);
    }

    /// <summary>
    /// Class-conditional re-generation of <paramref name="region"/> (default: the whole grid), or of a random share
    /// <paramref name="fraction"/> (0, 1] of its tokens (drawn from <paramref name="seed"/>; at least one token).
    /// </summary>
    public static EditResult Edit(this MaskBitPipeline pipeline, Tensor images, int classLabel, TokenMask? region = null,
        double fraction = 1.0, SamplingOptions? options = null, ulong seed = 42, Action<GenerationProgress>? onProgress = null)
    {
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), $"the share of tokens to edit must be in (0, 1], got {fraction}");
        int g = pipeline.TokenGridSize;
        region ??= TokenMask.Full(g, g);
        EditCore.CheckGrid(pipeline, region);
        if (region.IsEmpty) throw new ArgumentException("the region covers no token: nothing to edit");
        int count = Math.Max(1, (int)Math.Round(fraction * region.Count, MidpointRounding.AwayFromZero));
        var mask = count == region.Count ? region : TokenMask.Random(g, g, count, seed, region);
        return pipeline.Inpaint(images, mask, classLabel, options, seed, blend: false, onProgress);
    }
}
