using MaskBit.Evaluation;
using MaskBit.Networks;
using MaskBit.Nn;
using MaskBit.Tests.Evaluation;
using MaskBit.Training.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Networks;

/// <summary>
/// Parity of the evaluation and perceptual networks with the original's (tests/golden/README.md, case I, kind "feature_nets"):
/// the FID InceptionV3, the ResNet-50 perceptual loss (on logits and on features + logits) and LPIPS, all built with
/// the original's module tree and filled with the case's procedural weights.
/// </summary>
public class FeatureNetsGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("feature_nets");

    static readonly Dictionary<string, string> Inputs = new()
    {
        ["input"] = "the images fed to every network",
        ["target"] = "the second image batch of the perceptual loss and LPIPS",
    };

    [GoldenTheory("feature_nets"), MemberData(nameof(Cases))]
    public void InceptionMatches(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        var net = new InceptionV3();
        ProceduralWeights.Fill(net, c, "inception");
        var u8 = InceptionV3.ToUint8(c["input"]);
        c.AssertClose("inception_input_uint8", u8);
        using var _ = no_grad();
        using var f = net.call(u8);
        Assert.Equal(float64, f.F2048.dtype);
        Assert.Equal(float32, f.F768.dtype);
        c.AssertClose("inception_64", f.F64);
        c.AssertClose("inception_192", f.F192);
        c.AssertClose("inception_768", f.F768);
        c.AssertClose("inception_2048", f.F2048);
        c.AssertClose("inception_logits_unbiased", f.LogitsUnbiased);
        c.AssertClose("inception_logits", f.Logits);
        c.AssertEveryTensorChecked(k => k.StartsWith("inception_", StringComparison.Ordinal), Inputs);
    }

    [GoldenTheory("feature_nets"), MemberData(nameof(Cases))]
    public void PerceptualLossMatches(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        var resnet = new ResNet50();
        var onLogits = new PerceptualLoss(resnet, onLogits: true);
        ProceduralWeights.Fill(onLogits, c, "resnet50_perceptual");
        // The features variant wraps the same network; its key order (hence every procedural value) is the same.
        var onFeatures = new PerceptualLoss(resnet, onLogits: false);
        using var _ = no_grad();
        var x = onLogits.Preprocess(c["input"]);
        c.AssertClose("perceptual_resized_input", Resize.Antialiased(c["input"], PerceptualLoss.Size));
        c.AssertClose("resnet50_logits_input", resnet.call(x));
        c.AssertClose("perceptual_on_logits", onLogits.call(c["input"], c["target"]));
        c.AssertClose("perceptual_on_features", onFeatures.call(c["input"], c["target"]));
        c.AssertEveryTensorChecked(k => k.StartsWith("perceptual_", StringComparison.Ordinal) || k.StartsWith("resnet50_", StringComparison.Ordinal), Inputs);
    }

    [GoldenTheory("feature_nets"), MemberData(nameof(Cases))]
    public void LpipsMatches(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        var lpips = new Lpips();
        ProceduralWeights.Fill(lpips, c, "lpips");
        using var _ = no_grad();
        // [0, 1] images, as the original's evaluator passes them (LPIPS itself expects [-1, 1]).
        c.AssertClose("lpips_01", lpips.call(c["input"], c["target"]));
        c.AssertClose("lpips_pm1", lpips.call(c["input"] * 2 - 1, c["target"] * 2 - 1));
        c.AssertEveryTensorChecked(k => k.StartsWith("lpips_", StringComparison.Ordinal), Inputs);
    }

    [GoldenTheory("feature_nets"), MemberData(nameof(Cases))]
    public void EveryTensorOfTheCaseIsCovered(string name)
    {
        var c = Golden.Case(name);
        var covered = new[] { "inception_", "perceptual_", "resnet50_", "lpips_" };
        var unknown = c.Tensors.Keys.Where(k => !Inputs.ContainsKey(k) && !covered.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList();
        Assert.True(unknown.Count == 0, $"{name}: tensors no test checks: {string.Join(", ", unknown)}");
    }
}
