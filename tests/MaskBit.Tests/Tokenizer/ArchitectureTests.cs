using MaskBit.Nn;
using MaskBit.Config;
using MaskBit.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Tokenizer;

public class ArchitectureTests
{
    static readonly VqModelConfig Tiny = new()
    {
        QuantizerType = "lookup-free", TokenSize = 6, HiddenChannels = 32, ChannelMult = [1, 2, 2],
        NumResolutions = 3, NumResBlocks = 1, SampleWithConv = true,
    };

    [Theory]
    [InlineData(8, 3, 2, 0, 1)]  // stride 2 on an even size: TF SAME pads 0 top/left, 1 bottom/right
    [InlineData(7, 3, 2, 1, 1)]
    [InlineData(8, 3, 1, 1, 1)]
    [InlineData(8, 1, 1, 0, 0)]
    [InlineData(8, 5, 1, 2, 2)]
    public void Conv2dSamePadsLikeTensorFlow(int size, int k, int s, int padBefore, int padAfter)
    {
        using var scope = NewDisposeScope();
        var conv = new Conv2dSame(1, 1, k, stride: s, bias: false);
        var x = randn(1, 1, size, size);
        var expected = nn.functional.conv2d(nn.functional.pad(x, [padBefore, padAfter, padBefore, padAfter]),
            conv.Weight, strides: [s, s]);
        var y = conv.forward(x);
        Assert.Equal(expected.shape, y.shape);
        Assert.True(y.allclose(expected, atol: 1e-6));
    }

    [Fact]
    public void GroupNormStartsAsIdentityAffine()
    {
        using var scope = NewDisposeScope();
        var gn = Init.GroupNorm(64);
        Assert.True(gn.weight!.eq(1).all().item<bool>());
        Assert.True(gn.bias!.eq(0).all().item<bool>());
        Assert.Throws<ArgumentException>(() => Init.GroupNorm(48));
    }

    [Fact]
    public void LegacyDecoderIsTheSameComputationWithReversedUpIndices()
    {
        using var scope = NewDisposeScope();
        var modern = new ConvVqModel(Tiny);
        var legacy = new ConvVqModel(Tiny, legacy: true);
        int r = Tiny.NumResolutions;
        string Rename(string key) => key.StartsWith("decoder.up.")
            ? $"decoder.up.{r - 1 - int.Parse(key.Split('.')[2])}.{string.Join('.', key.Split('.').Skip(3))}" : key;
        var legacySd = legacy.state_dict();
        using (no_grad())
            foreach (var (k, v) in modern.state_dict()) legacySd[Rename(k)].copy_(v);
        modern.eval(); legacy.eval();
        var x = rand(1, 3, 16, 16);
        using var _ = no_grad();
        Assert.True(modern.forward(x).decoded.allclose(legacy.forward(x).decoded, atol: 1e-6));
        Assert.Contains("decoder.up.0.res_blocks.0.conv1.weight", legacySd.Keys);
        Assert.DoesNotContain("decoder.up.0.upsample_conv.weight", legacySd.Keys); // legacy up.0 = full resolution
        Assert.Contains("decoder.up.0.upsample_conv.weight", modern.state_dict().Keys);
    }

    [Fact]
    public void AveragePoolDownsamplingHasNoDownConvAndHalvesTheGrid()
    {
        using var scope = NewDisposeScope();
        var model = new ConvVqModel(Tiny with { SampleWithConv = false });
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("down_conv"));
        model.eval();
        using var _ = no_grad();
        var idx = model.Encode(rand(2, 3, 16, 16)).MinEncodingIndices;
        Assert.Equal(new long[] { 2, 4, 4 }, idx.shape);
    }

    [Fact]
    public void ResidualBlockShortcutQuirkUsesTheBlockOutput()
    {
        using var scope = NewDisposeScope();
        var block = new ResidualBlock(32, 64);
        var sd = block.state_dict();
        Assert.Equal(new long[] { 64, 64, 1, 1 }, sd["nin_shortcut.weight"].shape);
        // Zero conv2 => h = 0 and h + nin_shortcut(h) = 0 whatever the input (the input is dropped).
        using (no_grad()) sd["conv2.weight"].zero_();
        Assert.Equal(0f, block.forward(randn(1, 32, 4, 4)).abs().max().item<float>());
    }

    [Fact]
    public void TokensToImageAndBackRoundTripThroughTheGrid()
    {
        using var scope = NewDisposeScope();
        var model = new ConvVqModel(Tiny);
        model.eval();
        using var _ = no_grad();
        var x = rand(2, 3, 16, 16);
        var tokens = model.Tokenize(x);
        Assert.Equal(new long[] { 2, 16 }, tokens.shape);
        Assert.True(model.DecodeTokens(tokens).allclose(model.forward(x).decoded, atol: 1e-5));
        Assert.Throws<ArgumentException>(() => model.DecodeTokens(zeros(1, 15, dtype: int64)));
    }

    [Fact]
    public void UnknownQuantizerOrModelClassIsAClearError()
    {
        Assert.Contains("quantizer_type", Assert.Throws<ArgumentException>(() => new ConvVqModel(Tiny with { QuantizerType = "lfq" })).Message);
        Assert.Throws<NotSupportedException>(() => new ConvVqModel(Tiny with { QuantizerType = "vae" }));
        Assert.Contains("model_class", Assert.Throws<ArgumentException>(() => TokenizerFactory.Create(Tiny with { ModelClass = "vit" })).Message);
        Assert.Contains("channel_mult", Assert.Throws<ArgumentException>(() => new ConvVqModel(Tiny with { NumResolutions = 4 })).Message);
    }

    [Fact]
    public void TamingModelMapsImagesThroughMinusOneToOne()
    {
        using var scope = NewDisposeScope();
        // Tiny Taming tree: 2 levels (one downsampling), attention at the 8x8 level.
        var model = new TamingVqModel(ch: 32, chMult: [1, 2], numResBlocks: 1, attnResolutions: [8], resolution: 16, zChannels: 32, codebookSize: 16, embedDim: 8);
        var keys = model.state_dict().Keys.ToList();
        Assert.Contains("encoder.down.1.attn.0.q.weight", keys);
        Assert.Contains("encoder.down.0.downsample.conv.weight", keys);
        Assert.Contains("decoder.up.1.upsample.conv.weight", keys);
        Assert.Contains("decoder.up.0.block.1.conv1.weight", keys); // decoder levels have num_res_blocks + 1 blocks
        Assert.Contains("encoder.mid.attn_1.proj_out.bias", keys);
        Assert.Contains("quant_conv.weight", keys);
        model.eval();
        using var _ = no_grad();
        var x = rand(1, 3, 16, 16);
        var (decoded, r) = model.forward(x);
        Assert.Equal(x.shape, decoded.shape);
        Assert.Equal(new long[] { 1, 8, 8 }, r.MinEncodingIndices.shape);
    }
}
