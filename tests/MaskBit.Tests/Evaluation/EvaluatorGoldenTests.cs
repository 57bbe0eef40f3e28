using MaskBit.Evaluation;
using MaskBit.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

/// <summary>
/// Parity with the original's evaluator arithmetic: rFID and Inception Score from given features (tests/golden/README.md, case J,
/// kind "evaluator_stats") and the whole TokenizerEvaluator with procedural Inception and LPIPS (case K, kind
/// "tokenizer_evaluator").
/// </summary>
public class EvaluatorGoldenTests
{
    public static TheoryData<string> StatsCases => Golden.CaseNames("evaluator_stats");
    public static TheoryData<string> TokenizerCases => Golden.CaseNames("tokenizer_evaluator");

    [GoldenTheory("evaluator_stats"), MemberData(nameof(StatsCases))]
    public void RFidAndInceptionScoreMatch(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        long batch = c.Json.GetProperty("batch").GetInt64();
        var (real, fake, logits) = (c["features_real"], c["features_fake"], c["logits"]);
        using var realMoments = new FeatureMoments(real.shape[1]);
        using var fakeMoments = new FeatureMoments(real.shape[1]);
        using var score = new InceptionScore(logits.shape[1]);
        for (long start = 0; start < real.shape[0]; start += batch)
        {
            long len = Math.Min(batch, real.shape[0] - start);
            // float64 inside, from the stored float32 values (as the reference recomputed them)
            realMoments.Add(real.narrow(0, start, len).to(float64));
            fakeMoments.Add(fake.narrow(0, start, len).to(float64));
            score.Add(logits.narrow(0, start, len).to(float64));
        }
        using var sr = realMoments.Statistics();
        using var sf = fakeMoments.Statistics();
        c.AssertClose("rFID", tensor(Fid.Distance(sr, sf)));
        c.AssertClose("InceptionScore", tensor(score.Result()));
        c.AssertEveryTensorChecked(_ => true, new Dictionary<string, string>
        {
            ["features_real"] = "fed to the real-side accumulator",
            ["features_fake"] = "fed to the fake-side accumulator",
            ["logits"] = "fed to the Inception Score accumulator",
        });
    }

    [GoldenTheory("tokenizer_evaluator"), MemberData(nameof(TokenizerCases))]
    public void TokenizerEvaluatorMatches(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        // The case's networks carry the procedural weights of the feature_nets case (same rule, same key order).
        var nets = Golden.Cases("feature_nets").FirstOrDefault()
            ?? throw new InvalidOperationException($"{name} needs the network key lists of a feature_nets case under {Golden.Dir}");
        var inception = new InceptionV3();
        ProceduralWeights.Fill(inception, nets, "inception");
        var lpips = new Lpips();
        ProceduralWeights.Fill(lpips, nets, "lpips");
        using var evaluator = new TokenizerEvaluator(c.Json.GetProperty("num_codebook_entries").GetInt32(), inception, lpips);
        var notCompared = new Dictionary<string, string>();
        for (int u = 0; c.Has($"real_{u}"); u++)
        {
            evaluator.Update(c[$"real_{u}"], c[$"fake_{u}"], c[$"indices_{u}"]);
            foreach (var k in new[] { "real", "fake", "indices" }) notCompared[$"{k}_{u}"] = $"update {u} input";
        }
        var result = evaluator.Result().Entries().ToDictionary(e => e.Key, e => e.Value);
        // The case leaves rFID out (real and fake would need many images for a meaningful covariance).
        Assert.True(result.Remove("rFID"));
        var expectedKeys = c.Json.GetProperty("result_keys").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(expectedKeys.Order(), result.Keys.Order());
        foreach (var key in expectedKeys) c.AssertClose(key, tensor(result[key]));
        c.AssertEveryTensorChecked(_ => true, notCompared);
    }
}
