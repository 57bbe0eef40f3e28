using MaskBit.Generation;
using MaskBit.Pipeline;

namespace MaskBit.Editing;

/// <summary>Checks and the generator-driven token resampling the editing operations share.</summary>
static class EditCore
{
    /// <summary>Throws unless images is [B, 3, S, S] with S the model's image size (and B = 1 when <paramref name="single"/>).</summary>
    public static void CheckImages(MaskBitPipeline pipeline, Tensor images, string name = "images", bool single = false)
    {
        int s = pipeline.ImageSize;
        if (images.ndim != 4 || images.shape[1] != 3 || images.shape[2] != s || images.shape[3] != s || (single && images.shape[0] != 1))
            throw new ArgumentException($"{name}: expected [{(single ? "1" : "B")}, 3, {s}, {s}] (the model's image size), got [{string.Join(", ", images.shape)}]");
    }

    public static MaskedGenerator CheckGenerator(MaskBitPipeline pipeline, int classLabel)
    {
        var generator = pipeline.Generator ?? throw new InvalidOperationException("this pipeline has no generator (a tokenizer-only model): editing with classes needs one");
        if (classLabel < 0 || classLabel >= generator.NClass)
            throw new ArgumentException($"class {classLabel} is out of range: the generator has {generator.NClass} classes (0..{generator.NClass - 1})");
        return generator;
    }

    public static void CheckGrid(MaskBitPipeline pipeline, TokenMask mask)
    {
        int g = pipeline.TokenGridSize;
        if (mask.Height != g || mask.Width != g)
            throw new ArgumentException($"the mask's {mask.Width}x{mask.Height} token grid does not fit the model's {g}x{g} grid");
    }

    /// <summary>
    /// Decoding steps for regenerating <paramref name="masked"/> of <paramref name="total"/> elements: the full count
    /// scaled by the masked share, rounded up, at least 1 and at most the masked elements.
    /// </summary>
    public static int ScaledSteps(int numSteps, long masked, long total) =>
        (int)Math.Clamp((long)Math.Ceiling((double)numSteps * masked / total), 1, Math.Max(1, masked));

    /// <summary>
    /// tokens [B, g*g] int64 of the generator's grid -> the same with the tokens under <paramref name="mask"/>
    /// regenerated for <paramref name="classLabel"/> (<see cref="Sampler.Complete"/>, steps scaled to the masked share);
    /// the others are returned unchanged. On the CPU.
    /// </summary>
    public static Tensor Resample(MaskBitPipeline pipeline, Tensor tokens, TokenMask mask, int classLabel, SamplingOptions options,
        ISamplerNoise noise, Action<int, int>? onStep)
    {
        var generator = CheckGenerator(pipeline, classLabel);
        CheckGrid(pipeline, mask);
        if (mask.IsEmpty) throw new ArgumentException("the mask covers no token: nothing to regenerate");
        using var scope = NewDisposeScope();
        long b = tokens.shape[0];
        var where = mask.ToTensor().view(1, -1);                                          // [1, N]
        var split = Factorization.Split(tokens.cpu(), 1 << generator.Bits, generator.Splits); // [B, N, m]
        var start = split.masked_fill(where.unsqueeze(-1), Const(generator.MaskToken));
        int steps = ScaledSteps(options.NumSteps, (long)mask.Count * generator.Splits, (long)generator.SeqLen * generator.Splits);
        var sampler = new Sampler(generator, options with { NumSteps = steps }, noise);
        using var label = ((long)classLabel).ToScalar();
        var result = sampler.Complete(start, torch.full(b, label), step => onStep?.Invoke(step.Index + 1, steps));
        return torch.where(where, result.Tokens.cpu(), tokens.cpu()).MoveToOuterDisposeScope(); // [B, N]
    }
}
