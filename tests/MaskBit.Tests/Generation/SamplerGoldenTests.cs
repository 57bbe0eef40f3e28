using MaskBit.Generation;
using MaskBit.Interop;
using MaskBit.Tokenizer;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generation;

/// <summary>
/// Replay of the original's <c>sample()</c> trace (golden kind "sampler": G) with its recorded categorical draws and
/// Gumbel noise injected; the final tokens are decoded with the trace's tokenizer and compared with its images.
/// </summary>
public class SamplerGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("sampler");

    /// <summary>Hands the sampler the trace's draws: step{i}.sampled and step{i}.gumbel.</summary>
    sealed class RecordedNoise(GoldenCase c) : ISamplerNoise
    {
        public Tensor Categorical(Tensor probs, int step) => c[$"step{step}.sampled"].to(probs.device);
        public Tensor Gumbel(long[] shape, int step)
        {
            var g = c[$"step{step}.gumbel"];
            Assert.Equal(shape, g.shape);
            return g;
        }
    }

    static (Sampler sampler, LfqBert model, Tensor labels) Build(GoldenCase c)
    {
        var model = LfqBertGoldenTests.Build(Golden.Case(c.Json.GetProperty("models").GetProperty("generator").GetProperty("case").GetString()!));
        var k = c.Json.GetProperty("sample_kwargs");
        Assert.Equal(k.GetProperty("mask_token").GetInt32(), model.MaskToken);
        Assert.Equal(k.GetProperty("codebook_splits").GetInt32(), model.Splits);
        Assert.Equal(k.GetProperty("codebook_size").GetInt32(), 1 << model.Bits);
        Assert.Equal(k.GetProperty("patch_size").GetInt32() * k.GetProperty("patch_size").GetInt32(), model.SeqLen);
        var options = new SamplingOptions
        {
            NumSteps = k.GetProperty("num_steps").GetInt32(),
            GenMaskScheduleStrategy = k.GetProperty("mask_schedule_strategy").GetString()!,
            GuidanceScale = k.GetProperty("guidance_scale").GetDouble(),
            GuidanceAnnealing = k.GetProperty("guidance_annealing").GetString()!,
            ScalePow = k.GetProperty("scale_pow").GetDouble(),
            SoftmaxTemperature = k.GetProperty("softmax_temperature").GetDouble(),
            RandomizeTemperature = k.GetProperty("randomize_temperature").GetDouble(),
            UseSamplingAnnealing = k.GetProperty("use_sampling_annealing").GetBoolean(),
        };
        return (new Sampler(model, options, new RecordedNoise(c)), model, c["labels"]);
    }

    static void AssertScalar(GoldenCase c, string key, double actual, double rtol = 0)
    {
        double expected = c[key].to_type(ScalarType.Float64).item<double>();
        Assert.True(Math.Abs(actual - expected) <= rtol * Math.Abs(expected), $"{c.Name}:{key}: {actual:R} != expected {expected:R}");
    }

    [GoldenTheory("sampler"), MemberData(nameof(Cases))]
    public void EveryStepMatchesTeacherForced(string name)
    {
        var c = Golden.Case(name);
        var (sampler, model, labels) = Build(c);
        using var _ = model;
        var b = labels.shape[0];
        for (int i = 0; i < sampler.Options.NumSteps; i++)
        {
            using var scope = NewDisposeScope();
            var tokens = c[$"step{i}.tokens_before"];
            using (no_grad())
            {
                Golden.AssertClose(c[$"step{i}.logits_cond"], model.forward(tokens, labels, zeros(b, ScalarType.Bool)), c.Tolerance("step*.logits_cond"), $"{name}:step{i}.logits_cond");
                Golden.AssertClose(c[$"step{i}.logits_uncond"], model.forward(tokens, labels, ones(b, ScalarType.Bool)), c.Tolerance("step*.logits_uncond"), $"{name}:step{i}.logits_uncond");
            }
            var step = sampler.Step(i, tokens, labels);
            AssertScalar(c, $"step{i}.guidance_scale", step.GuidanceScale, 1e-6);
            Golden.AssertClose(c[$"step{i}.probs"], step.Probs, c.Tolerance("step*.probs"), $"{name}:step{i}.probs");
            c.AssertClose($"step{i}.pred_tokens", step.Pred);
            var expectedConfidence = c[$"step{i}.confidence"];
            var fixedElements = expectedConfidence.isinf();
            Assert.True(fixedElements.eq(step.Confidence.isinf()).all().item<bool>(), $"{name}:step{i}: +inf (already fixed) elements differ");
            Golden.AssertClose(expectedConfidence.masked_fill(fixedElements, 0), step.Confidence.masked_fill(fixedElements, 0),
                c.Tolerance("step*.confidence_finite"), $"{name}:step{i}.confidence");
            AssertScalar(c, $"step{i}.mask_ratio", step.MaskRatio, 1e-6);
            AssertScalar(c, $"step{i}.mask_len", step.MaskLen);
            AssertScalar(c, $"step{i}.num_masked_before", step.NumMaskedBefore);
            AssertScalar(c, $"step{i}.num_tokens_to_mask", step.NumTokensToMask);
            Golden.AssertClose(c[$"step{i}.threshold"], step.Threshold, c.Tolerance("step*.confidence_finite"), $"{name}:step{i}.threshold");
            c.AssertClose($"step{i}.tokens_after", step.TokensAfter);
        }
    }

    [GoldenTheory("sampler"), MemberData(nameof(Cases))]
    public void FullRunWithRecordedDrawsReproducesTheFinalTokens(string name)
    {
        var c = Golden.Case(name);
        var (sampler, model, labels) = Build(c);
        using var _ = model;
        using var scope = NewDisposeScope();
        model.train();
        var result = sampler.Sample((int)labels.shape[0], labels);
        Assert.True(model.training, "the sampler restores the model's mode");
        Assert.Equal(sampler.Options.NumSteps, result.History.Count);
        for (int i = 0; i < result.History.Count; i++) c.AssertClose($"step{i}.pred_tokens", result.History[i]);
        c.AssertClose("final_tokens_split", result.SplitTokens);
        c.AssertClose("final_tokens", result.Tokens);
        c.AssertClose("final_tokens_combined_float", Factorization.Combine(result.SplitTokens, 1 << model.Bits, model.Splits));

        // The decode step of sample(): tokenizer.decode_tokens(combined tokens), unclamped.
        var tokenizerCase = Golden.Case(c.Json.GetProperty("models").GetProperty("tokenizer").GetProperty("case").GetString()!);
        using var tokenizer = new ConvVqModel(TestModels.VqConfig(tokenizerCase));
        Checkpoint.LoadInto(tokenizer, tokenizerCase.ModelPath);
        tokenizer.eval();
        using (no_grad()) c.AssertClose("images", tokenizer.DecodeTokens(result.Tokens));
    }

    [GoldenTheory("sampler"), MemberData(nameof(Cases))]
    public void DefaultGumbelTransformMatchesTheRecordedNoise(string name)
    {
        var c = Golden.Case(name);
        using var scope = NewDisposeScope();
        for (int i = 0; c.Has($"step{i}.gumbel"); i++)
            Golden.AssertClose(c[$"step{i}.gumbel"], SeededSamplerNoise.GumbelFromUniform(c[$"step{i}.gumbel_uniform"]), (1e-6, 1e-6), $"{name}:step{i}.gumbel");
    }
}
