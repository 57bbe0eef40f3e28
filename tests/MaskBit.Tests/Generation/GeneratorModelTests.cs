using MaskBit.Interop;
using MaskBit.Config;
using MaskBit.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generation;

/// <summary>Structure and behaviour of the generator modules on tiny random models.</summary>
public class GeneratorModelTests
{
    static readonly MlmModelConfig Tiny = new() { HiddenDim = 32, Depth = 2, Heads = 4, MlpDim = 64, CodebookSplits = 2 };

    static (Tensor tokens, Tensor labels, Tensor drop) Inputs(MaskedGenerator model, int b = 3)
    {
        var g = new Generator(5);
        var tokens = randint(0, model.EffectiveCodebookSize + 1, [b, model.SeqLen, model.Splits], generator: g); // mask token included
        return (tokens, tensor(new long[] { 3, 999, 7 }[..b]), tensor(new[] { false, true, false }[..b]));
    }

    [Fact]
    public void BertHasTheOriginalKeysInOrder()
    {
        using var model = GeneratorFactory.Create(Tiny with { ModelCls = "bert" }, codebookSize: 1024, imageSize: 16, inputStride: 4);
        Assert.IsType<Bert>(model);
        var keys = Checkpoint.StateDict(model).Select(e => $"{e.Key} [{string.Join(",", e.Tensor.shape)}]").ToList();
        var layer = (int l) => new[]
        {
            $"transformer.layers.{l}.0.mha.in_proj_weight [96,32]", $"transformer.layers.{l}.0.mha.in_proj_bias [96]",
            $"transformer.layers.{l}.0.mha.out_proj.weight [32,32]", $"transformer.layers.{l}.0.mha.out_proj.bias [32]",
            $"transformer.layers.{l}.0.norm.weight [32]", $"transformer.layers.{l}.0.norm.bias [32]",
            $"transformer.layers.{l}.1.net.0.weight [64,32]", $"transformer.layers.{l}.1.net.0.bias [64]",
            $"transformer.layers.{l}.1.net.2.weight [32,64]", $"transformer.layers.{l}.1.net.2.bias [32]",
            $"transformer.layers.{l}.1.norm.weight [32]", $"transformer.layers.{l}.1.norm.bias [32]",
        };
        string[] expected =
        [
            "pos_emb [1,17,32]", "class_emb.weight [1001,32]", "tok_emb_list.0.weight [33,32]", "tok_emb_list.1.weight [33,32]",
            "first_layer.0.weight [32]", "first_layer.0.bias [32]", .. layer(0), .. layer(1),
            "last_layer.0.weight [32,32]", "last_layer.0.bias [32]", "last_layer.2.weight [32]", "last_layer.2.bias [32]",
            "bias.0 [16,32]", "bias.1 [16,32]",
        ];
        Assert.Equal(expected, keys);
    }

    [Theory]
    [InlineData("lfq_bert", false)]
    [InlineData("lfq_bert", true)]
    [InlineData("bert", false)]
    public void ForwardShapesLabelsAndAttentionPath(string modelCls, bool prenorm)
    {
        using var scope = NewDisposeScope();
        using var model = GeneratorFactory.Create(Tiny with { ModelCls = modelCls, UsePrenorm = prenorm }, 1024, 16, 4);
        model.eval();
        var (tokens, labels, drop) = Inputs(model);
        var before = labels.clone();
        using var _ = no_grad();
        var logits = model.forward(tokens, labels, drop);
        Assert.Equal([3L, 16, 2, 32], logits.shape);
        Assert.True(labels.eq(before).all().item<bool>(), "the caller's labels are not overwritten");
        // A dropped label is the "no class" row: same as passing it explicitly.
        var explicitDrop = model.forward(tokens, labels.masked_fill(drop, model.DropLabel), zeros_like(drop));
        Assert.True(logits.allclose(explicitDrop));
        Assert.True((logits - model.forward(tokens, labels, zeros_like(drop))).abs().max().item<float>() > 0, "the label reaches the output");
        // return_attn path (explicit softmax) equals the fused path; weights are per-layer row-stochastic maps.
        var (withAttention, attention) = model.ForwardWithAttention(tokens, labels, drop);
        Assert.True(withAttention.allclose(logits, rtol: 1e-4, atol: 1e-5));
        Assert.Equal(2, attention.Count);
        Assert.All(attention, a => Assert.Equal([3L, 17, 17], a.shape));
        Assert.True(attention[1].sum(-1).allclose(ones(3, 17), atol: 1e-5));
        // dtype-agnostic: the bit input follows the weights' dtype (the int32 bits_to_indices buffer stays int32).
        model.to(ScalarType.Float64);
        var logits64 = model.forward(tokens, labels, drop);
        Assert.Equal(ScalarType.Float64, logits64.dtype);
        Assert.True(logits64.to_type(ScalarType.Float32).allclose(logits, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void LfqBertInitialisationFollowsTheOriginal()
    {
        using var model = new LfqBert(imgSize: 32, hiddenDim: 256, codebookSize: 1024, codebookSplits: 2, depth: 1, heads: 4, mlpDim: 512, inputStride: 2);
        var p = model.state_dict();
        foreach (var key in new[] { "pos_emb", "class_emb.weight", "transformer.layers.0.0.mha.out_proj.weight", "transformer.layers.0.1.net.0.weight" })
            Assert.InRange(p[key].std().item<float>(), 0.019f, 0.021f);
        // xavier-uniform in_proj: bound sqrt(6 / (D + 3D)) -> std bound / sqrt(3)
        Assert.InRange(p["transformer.layers.0.0.mha.in_proj_weight"].std().item<float>(), 0.95f * MathF.Sqrt(6f / 1024) / MathF.Sqrt(3), 1.05f * MathF.Sqrt(6f / 1024) / MathF.Sqrt(3));
        foreach (var key in new[] { "input_proj.bias", "prediction_layer.bias", "transformer.layers.0.0.mha.in_proj_bias", "transformer.layers.0.0.mha.out_proj.bias", "last_layer.2.bias" })
            Assert.Equal(0f, p[key].abs().max().item<float>());
        Assert.Equal(1f, p["first_layer.0.weight"].min().item<float>());
        Assert.Equal(new[] { 1, 2, 4, 8, 16 }, p["bits_to_indices"].data<int>().ToArray());
    }

    [Fact]
    public void BadInputsAndConfigsAreRejectedInOneLine()
    {
        using var scope = NewDisposeScope();
        using var model = GeneratorFactory.Create(Tiny, 1024, 16, 4);
        var errors = new List<ArgumentException>
        {
            Assert.Throws<ArgumentException>(() => model.forward(zeros(2, 15, 2, ScalarType.Int64), zeros(2, ScalarType.Int64), zeros(2, ScalarType.Bool))),
            Assert.Throws<ArgumentException>(() => model.forward(zeros(2, 16, 2, ScalarType.Int64), zeros(3, ScalarType.Int64), zeros(2, ScalarType.Bool))),
            Assert.Throws<ArgumentException>(() => GeneratorFactory.Create(Tiny with { ModelCls = "gpt" }, 1024, 16, 4)),
            Assert.Throws<ArgumentException>(() => GeneratorFactory.Create(Tiny with { MaskToken = 1024 }, 1024, 16, 4)),
        };
        Assert.All(errors, e => Assert.DoesNotContain('\n', e.Message));
        Assert.Contains("mask_token", errors[3].Message);
    }
}
