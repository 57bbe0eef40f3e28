using MaskBit.Interop;
using MaskBit.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Tokenizer;

/// <summary>
/// Parity with the original's tokenizers with a learned codebook on every golden case of kind "tokenizer_variant"
/// (tests/golden/README.md, case N): VQGAN+ ConvVQModel with SimpleVectorizer (plain and L2-normalised), the MaskGIT tokenizer
/// (ConvVQModel legacy) and the Taming VQGAN (OriginalVQModel, reduced width).
/// </summary>
public class CodebookTokenizerGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("tokenizer_variant");

    /// <summary>Fixture tensors fed to the model rather than compared.</summary>
    static readonly Dictionary<string, string> Inputs = new() { ["input"] = "the images fed to the model" };

    static (ITokenizer model, GoldenCase c) Build(string name)
    {
        var c = Golden.Case(name);
        var variant = c.Json.GetProperty("variant").GetString();
        ITokenizer model = variant switch
        {
            "vqgan+" or "maskgit" => TokenizerFactory.Create(TestModels.VqConfig(c)),
            "taming" => TestModels.TamingModel(c),
            _ => throw new InvalidOperationException($"{name}: unknown tokenizer variant '{variant}'"),
        };
        if (model is ConvVqModel conv) Assert.Equal(variant, conv.Config.ModelClass);
        Checkpoint.LoadInto(model.Module, c.ModelPath);
        return (model, c);
    }

    /// <summary>The original's <c>forward</c> on the case input; also returns what the quantizer received.</summary>
    static (Tensor decoded, QuantizerResult result, Tensor quantizerInput) Forward(ITokenizer model, Tensor x)
    {
        Tensor? z = null;
        var hook = model.Quantize.register_forward_hook((_, input, output) => { z = input.detach().clone().DetachFromDisposeScope(); return output; });
        try
        {
            var (decoded, result) = model.Reconstruct(x);
            Assert.True(z is not null, "the forward pass did not run the quantizer through its hooks");
            return (decoded, result, z);
        }
        finally { hook.remove(); }
    }

    [GoldenTheory("tokenizer_variant"), MemberData(nameof(Cases))]
    public void EvalEncodeDecodeMatches(string name)
    {
        using var scope = NewDisposeScope();
        var (model, c) = Build(name);
        model.Module.eval();
        using var _ = no_grad();
        var x = c["input"];
        var (decoded, r, z) = Forward(model, x);
        // encoder_output is the quantizer's input: the encoder's output, after quant_conv for Taming.
        c.AssertClose("encoder_output", z);
        c.AssertClose("quantized", r.Quantized);
        c.AssertClose("indices", r.MinEncodingIndices);
        c.AssertClose("decoded", decoded);
        c.AssertClose("eval_quantizer_loss", r.QuantizerLoss);
        c.AssertClose("eval_commitment_loss", r.CommitmentLoss);
        c.AssertClose("eval_codebook_loss", r.CodebookLoss!);
        var indices = c["indices"];
        c.AssertClose("decoded_from_tokens", model.DecodeTokens(indices.reshape(indices.shape[0], -1)));
        c.AssertEveryTensorChecked(k => !k.StartsWith("train_", StringComparison.Ordinal), Inputs);
    }

    [GoldenTheory("tokenizer_variant"), MemberData(nameof(Cases))]
    public void TrainModeLossesAndEntropiesMatch(string name)
    {
        using var scope = NewDisposeScope();
        var (model, c) = Build(name);
        model.Module.train();
        using var _ = no_grad(); // the fixture holds forward values only
        var (_, r, _) = Forward(model, c["input"]);
        c.AssertClose("train_quantizer_loss", r.QuantizerLoss);
        c.AssertClose("train_commitment_loss", r.CommitmentLoss);
        c.AssertClose("train_codebook_loss", r.CodebookLoss!);
        c.AssertClose("train_entropy_loss", r.EntropyLoss);
        c.AssertClose("train_per_sample_entropy", r.PerSampleEntropy);
        c.AssertClose("train_avg_entropy", r.AvgEntropy);
        c.AssertEveryTensorChecked(k => k.StartsWith("train_", StringComparison.Ordinal), Inputs);
    }
}
