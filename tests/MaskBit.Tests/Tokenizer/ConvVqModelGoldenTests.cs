using MaskBit.Interop;
using MaskBit.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Tokenizer;

/// <summary>Parity with the original ConvVQModel on every golden case of kind "tokenizer" (tests/golden/README.md, cases A, B).</summary>
public class ConvVqModelGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("tokenizer");

    static (ConvVqModel model, GoldenCase c) Build(string name)
    {
        var c = Golden.Case(name);
        var model = new ConvVqModel(TestModels.VqConfig(c));
        Checkpoint.LoadInto(model, c.ModelPath);
        return (model, c);
    }

    [GoldenTheory("tokenizer"), MemberData(nameof(Cases))]
    public void EvalEncodeDecodeMatches(string name)
    {
        using var scope = NewDisposeScope();
        var (model, c) = Build(name);
        model.eval();
        using var _ = no_grad();
        var x = c["input"];
        var acts = TestModels.CaptureActivations(model,
            c.Tensors.Keys.Where(k => k.StartsWith("act.")).Select(k => k[4..]),
            () => c.AssertClose("decoded", model.forward(x).decoded));
        foreach (var (k, v) in acts) c.AssertClose("act." + k, v);

        c.AssertClose("encoder_output", model.Encoder.forward(x));
        var r = model.Encode(x);
        c.AssertClose("quantized", r.Quantized);
        c.AssertClose("indices", r.MinEncodingIndices);
        c.AssertClose("eval_quantizer_loss", r.QuantizerLoss);
        c.AssertClose("eval_commitment_loss", r.CommitmentLoss);
        c.AssertClose("eval_entropy_loss", r.EntropyLoss);
        var tokens = model.Tokenize(x);
        c.AssertClose("tokens_flat", tokens);
        c.AssertClose("codebook_entries", model.Quantize.GetCodebookEntry(c["indices"]));
        c.AssertClose("decoded_from_tokens", model.DecodeTokens(c["tokens_flat"]));
    }

    [GoldenTheory("tokenizer"), MemberData(nameof(Cases))]
    public void TrainModeLossesAndGradientsMatch(string name)
    {
        using var scope = NewDisposeScope();
        var (model, c) = Build(name);
        model.train();
        var x = c["input"];
        var z = model.Encoder.forward(x);
        z.retain_grad();
        var r = model.Quantize.forward(z);
        var decoded = model.Decode(r.Quantized);
        AssertTrainModeResult(c, "train_", r);
        c.AssertClose("train_decoded", decoded);

        // The fixture's surrogate: 4 * mse(input, decoded) + quantizer_loss (VQGANLoss without perceptual/GAN terms).
        var surrogate = 4.0 * nn.functional.mse_loss(x, decoded) + r.QuantizerLoss;
        c.AssertClose("train_surrogate_loss", surrogate);
        surrogate.backward();
        c.AssertClose("grad_encoder_output__surrogate", z.grad!);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var key in c.Tensors.Keys.Where(k => k.StartsWith("grad.") && k.EndsWith("__surrogate")))
        {
            var param = key["grad.".Length..^"__surrogate".Length];
            Assert.True(parameters.ContainsKey(param), $"model has no parameter {param}");
            c.AssertClose(key, parameters[param].grad!);
        }

        // Gradient of the quantizer loss alone w.r.t. the encoder output (straight-through + entropy terms).
        var z2 = c["encoder_output"].clone().requires_grad_(true);
        model.Quantize.forward(z2).QuantizerLoss.backward();
        c.AssertClose("grad_encoder_output__quantizer_loss", z2.grad!);
    }

    [GoldenTheory("tokenizer"), MemberData(nameof(Cases))]
    public void QuantizerProbeWithZerosAndTinyValuesMatches(string name)
    {
        using var scope = NewDisposeScope();
        var (model, c) = Build(name);
        model.train();
        var r = model.Quantize.forward(c["probe_z"]);
        c.AssertClose("probe_quantized", r.Quantized);
        AssertTrainModeResult(c, "probe_", r);
    }

    /// <summary>The train-mode result dict (entropy terms active) stored under <paramref name="prefix"/>.</summary>
    static void AssertTrainModeResult(GoldenCase c, string prefix, QuantizerResult r)
    {
        c.AssertClose(prefix + "indices", r.MinEncodingIndices);
        c.AssertClose(prefix + "quantizer_loss", r.QuantizerLoss);
        c.AssertClose(prefix + "commitment_loss", r.CommitmentLoss);
        c.AssertClose(prefix + "entropy_loss", r.EntropyLoss);
        c.AssertClose(prefix + "per_sample_entropy", r.PerSampleEntropy);
        c.AssertClose(prefix + "avg_entropy", r.AvgEntropy);
    }
}
