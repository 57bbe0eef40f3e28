using MaskBit.Config;
using MaskBit.Generation;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generation;

/// <summary>Sampler behaviour with its own seeded noise on a tiny random generator.</summary>
public class SamplerTests
{
    static MaskedGenerator Tiny() => GeneratorFactory.Create(
        new MlmModelConfig { HiddenDim = 32, Depth = 1, Heads = 2, MlpDim = 64, CodebookSplits = 2 }, 1024, 16, 4);

    static readonly SamplingOptions Options = new()
    {
        NumSteps = 6, GenMaskScheduleStrategy = "arccos", GuidanceScale = 2.0, GuidanceAnnealing = "cosine", ScalePow = 2.5,
        RandomizeTemperature = 3.0,
    };

    [Fact]
    public void SeededSamplingIsReproducibleCompleteAndFollowsTheSchedule()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        var labels = tensor(new long[] { 1, 2, 3 });
        var counts = new List<long>();
        SampleResult Run(ulong seed)
        {
            using var noise = new SeededSamplerNoise(seed);
            counts.Clear();
            Tensor? previous = null;
            var result = new Sampler(model, Options, noise).Sample(3, labels, step =>
            {
                counts.Add(step.TokensAfter[0].eq(model.MaskToken).sum().item<long>());
                if (previous is not null)
                {
                    // Elements fixed by an earlier step keep their value.
                    var kept = previous.ne(model.MaskToken);
                    Assert.True(step.Pred.masked_select(kept).eq(previous.masked_select(kept)).all().item<bool>());
                    previous.Dispose();
                }
                previous = step.TokensAfter.clone().DetachFromDisposeScope();
            });
            previous?.Dispose();
            return result;
        }
        var a = Run(11);
        var b = Run(11);
        var c = Run(12);
        Assert.True(a.SplitTokens.eq(b.SplitTokens).all().item<bool>(), "same seed, same tokens");
        Assert.False(a.SplitTokens.eq(c.SplitTokens).all().item<bool>(), "another seed, other tokens");
        Assert.Equal([3L, 16, 2], a.SplitTokens.shape);
        Assert.True(a.SplitTokens.lt(model.EffectiveCodebookSize).all().item<bool>(), "no mask token left");
        Assert.True(a.Tokens.eq(Factorization.CombineToLong(a.SplitTokens, 1024, 2)).all().item<bool>());
        Assert.Equal(6, a.History.Count);
        // Remaining masked elements per step = the unmasking schedule (Gumbel noise makes ties practically impossible).
        Assert.Equal(Sampler.UnmaskSchedule(6, 32, "arccos").Select(s => s.MaskedAfter), counts);
    }

    [Fact]
    public void WithoutGuidanceAndWithDefaultLabels()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        using var noise = new SeededSamplerNoise(3);
        var labels = Sampler.DefaultLabels(20, new Generator(4));
        Assert.Equal(new long[] { 1, 7, 282, 604, 724, 179, 751, 404, 850 }, labels.data<long>().Take(9).ToArray());
        Assert.Equal(labels[9].item<long>(), labels[19].item<long>()); // one random class, drawn once
        Assert.InRange(labels[9].item<long>(), 0, 998);
        var result = new Sampler(model, Options with { GuidanceScale = 0, UseSamplingAnnealing = true }, noise).Sample(10);
        Assert.Equal([10L, 16], result.Tokens.shape);
        Assert.Throws<ArgumentException>(() => Sampler.DefaultLabels(7));
    }

    [Fact]
    public void CompletionKeepsTheFixedElementsAndFollowsTheScheduleOfTheMaskedOnes()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny();
        using var noise = new SeededSamplerNoise(5);
        var known = randint(0, model.EffectiveCodebookSize, new long[] { 2, 16, 2 }, generator: new Generator(1));
        var masked = zeros(new long[] { 1, 16, 2 }, ScalarType.Bool);
        masked[0, TensorIndex.Slice(3, 10)] = tensor(true);                                 // 14 of 32 elements
        var start = known.masked_fill(masked, model.MaskToken);
        var counts = new List<long>();
        var result = new Sampler(model, Options, noise).Complete(start, tensor(new long[] { 1, 2 }),
            step => counts.Add(step.TokensAfter[0].eq(model.MaskToken).sum().item<long>()));
        var fixedElements = masked.logical_not().expand_as(known);
        Assert.True(result.SplitTokens.masked_select(fixedElements).equal(known.masked_select(fixedElements)).all().item<bool>());
        Assert.True(result.SplitTokens.lt(model.EffectiveCodebookSize).all().item<bool>(), "no mask token left");
        Assert.Equal(Sampler.UnmaskSchedule(6, 14, "arccos").Select(s => s.MaskedAfter), counts);
        // Once a single element is left the completion re-masks nothing (full generation would re-mask everything).
        var few = known.clone();
        few[.., 0, 0] = tensor((long)model.MaskToken);
        few[.., 0, 1] = tensor((long)model.MaskToken);
        var r = new Sampler(model, Options, noise).Complete(few, tensor(new long[] { 1, 2 }));
        Assert.True(r.SplitTokens.narrow(1, 1, 15).equal(known.narrow(1, 1, 15)).all().item<bool>());
        Assert.Contains("same number", Assert.Throws<ArgumentException>(() => new Sampler(model, Options, noise).Complete(
            start.masked_fill(tensor(new[] { false, true }).view(2, 1, 1), 0), tensor(new long[] { 1, 2 }))).Message);
        Assert.Contains("no masked element", Assert.Throws<ArgumentException>(() => new Sampler(model, Options, noise).Complete(known, tensor(new long[] { 1, 2 }))).Message);
    }

    [Fact]
    public void GuidanceRampMatchesTheSpecTable()
    {
        // fidelity 5: s_t for cosine, T = 64, at i = 0, 1, 16, 32, 48, 63
        int[] at = [0, 1, 16, 32, 48, 63];
        float[] pow25 = [0f, 0.0000f, 0.0024f, 0.0751f, 0.4798f, 0.9963f];
        float[] pow30 = [0f, 0.0000f, 0.0006f, 0.0381f, 0.3785f, 0.9948f];
        for (int j = 0; j < at.Length; j++)
        {
            Assert.Equal(pow25[j], Sampler.GuidanceScaleStep(at[j], 64, "cosine", 2.5), 4);
            Assert.Equal(pow30[j], Sampler.GuidanceScaleStep(at[j], 64, "cosine", 3.0), 4);
        }
        Assert.Equal(0.5f, Sampler.GuidanceScaleStep(4, 8, "linear", 4.0));
        Assert.Equal(1f, Sampler.GuidanceScaleStep(0, 8, "none", 4.0));
    }

    [Fact]
    public void UnmaskScheduleMatchesTheSpecTables()
    {
        long[] After(int steps) => Sampler.UnmaskSchedule(steps, 512, "arccos").Select(s => s.MaskedAfter).ToArray();
        Assert.Equal(new long[] { 506, 501, 496, 491, 486, 481, 476, 471 }, After(64)[..8]);
        Assert.Equal(new long[] { 115, 100, 81, 57, 1 }, After(64)[^5..]);
        Assert.Equal(new long[] { 81, 70, 57, 40, 1 }, After(128)[^5..]);
        Assert.Equal(new long[] { 57, 49, 40, 28, 1 }, After(256)[^5..]);
        // torch.clamp semantics: the upper bound (masked_before - 1) wins over the lower bound 1.
        Assert.Equal(0, Sampler.NumTokensToMask(1e-6f, 512, 1).numTokensToMask);
    }

    [Fact]
    public void BadOptionsAreRejectedInOneLine()
    {
        using var model = Tiny();
        using var noise = new SeededSamplerNoise(1);
        var errors = new Exception[]
        {
            Assert.Throws<ArgumentException>(() => new Sampler(model, Options with { GuidanceAnnealing = "exp" }, noise)),
            Assert.Throws<ArgumentException>(() => new Sampler(model, Options with { GenMaskScheduleStrategy = "cubic" }, noise)),
            Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(model, Options with { NumSteps = 0 }, noise)),
            Assert.Throws<ArgumentException>(() => new Sampler(model, Options, noise).Sample(2, tensor(new long[] { 1 }))),
        };
        Assert.All(errors, e => Assert.DoesNotContain('\n', e.Message));
    }
}
