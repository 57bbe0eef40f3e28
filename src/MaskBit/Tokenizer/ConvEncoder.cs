using MaskBit.Config;
using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>
/// VQGAN+ encoder (fidelity 1.3): conv_in (no bias) -> down[0..R-1] (R-1 downsampling stages, the last without
/// downsampling) -> mid -> GN -> SiLU -> 1x1 conv_out to token_size channels.
/// </summary>
public sealed class ConvEncoder : Module<Tensor, Tensor>
{
    readonly Conv2dSame conv_in;
    readonly ModuleList<ResidualStage> down;
    readonly ResidualStage mid;
    readonly GroupNorm norm_out;
    readonly Conv2dSame conv_out;

    public ConvEncoder(VqModelConfig c) : base(nameof(ConvEncoder))
    {
        ValidateMult(c);
        long h = c.HiddenChannels;
        conv_in = new Conv2dSame(c.NumChannels, h, 3, bias: false);
        var inMult = new[] { 1 }.Concat(c.ChannelMult).ToArray();
        down = new ModuleList<ResidualStage>();
        for (int i = 0; i < c.NumResolutions; i++)
        {
            var resample = i == c.NumResolutions - 1 ? ResidualStage.Resample.None
                : c.SampleWithConv ? ResidualStage.Resample.DownConv : ResidualStage.Resample.DownAvgPool;
            down.Add(new ResidualStage(h * inMult[i], h * inMult[i + 1], c.NumResBlocks, resample));
        }
        long outCh = h * c.ChannelMult[^1];
        mid = new ResidualStage(outCh, outCh, c.NumResBlocks);
        norm_out = Init.GroupNorm(outCh);
        conv_out = new Conv2dSame(outCh, c.TokenSize, 1);
        RegisterComponents();
    }

    internal static void ValidateMult(VqModelConfig c)
    {
        if (c.ChannelMult.Length != c.NumResolutions)
            throw new ArgumentException($"vq_model.channel_mult has {c.ChannelMult.Length} entries, num_resolutions is {c.NumResolutions}");
        if (c.NumResBlocks < 1 || c.NumResBlocksDecoder is < 1)
            throw new ArgumentException($"vq_model.num_res_blocks{(c.NumResBlocks < 1 ? "" : "_decoder")} must be at least 1, got {(c.NumResBlocks < 1 ? c.NumResBlocks : c.NumResBlocksDecoder)}");
    }

    /// <summary>The stages, for inspecting intermediate activations.</summary>
    public IList<ResidualStage> Down => down;
    public Module<Tensor, Tensor> Mid => mid;

    // x: [B, 3, H, W] in [0, 1] -> z: [B, T, H/f, W/f]. Submodules run through call() so that forward hooks see them.
    public override Tensor forward(Tensor x) => ModuleExtensions.Scoped(() =>
    {
        x = conv_in.call(x);
        foreach (var stage in down) x = stage.call(x);
        x = mid.call(x);
        return conv_out.call(F.silu(norm_out.call(x)));
    });
}
