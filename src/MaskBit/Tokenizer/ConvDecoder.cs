using MaskBit.Config;
using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>
/// VQGAN+ decoder (fidelity 1.4): conv_in -> mid -> up stages (lowest resolution first) -> GN -> SiLU -> conv_out.
/// Output is not clamped. <c>legacy</c> = the original's ConvDecoderLegacy (MaskGIT tokenizer):
/// the same computation with the <c>up</c> list stored in reverse (<c>legacy up.k</c> == <c>new up.{R-1-k}</c>),
/// which only changes the state-dict indices, and <c>num_res_blocks_decoder</c> ignored.
/// </summary>
public sealed class ConvDecoder : Module<Tensor, Tensor>
{
    readonly Conv2dSame conv_in;
    readonly ResidualStage mid;
    readonly ModuleList<ResidualStage> up;
    readonly GroupNorm norm_out;
    readonly Conv2dSame conv_out;
    readonly bool _legacy;

    public ConvDecoder(VqModelConfig c, bool legacy = false) : base(nameof(ConvDecoder))
    {
        ConvEncoder.ValidateMult(c);
        _legacy = legacy;
        long h = c.HiddenChannels;
        int n = legacy ? c.NumResBlocks : c.NumResBlocksDecoder ?? c.NumResBlocks;
        var mult = c.ChannelMult.Append(c.ChannelMult[^1]).ToArray();
        long blockIn = h * c.ChannelMult[^1];
        conv_in = new Conv2dSame(c.TokenSize, blockIn, 3);
        mid = new ResidualStage(blockIn, blockIn, n);
        var stages = new List<ResidualStage>();
        for (int i = c.NumResolutions - 1; i >= 0; i--)
            stages.Add(new ResidualStage(h * mult[i + 1], h * mult[i], n,
                i > 0 ? ResidualStage.Resample.Up : ResidualStage.Resample.None));
        if (legacy) stages.Reverse();
        up = new ModuleList<ResidualStage>(stages.ToArray());
        norm_out = Init.GroupNorm(h * c.ChannelMult[0]);
        conv_out = new Conv2dSame(h * c.ChannelMult[0], c.NumChannels, 3);
        RegisterComponents();
    }

    /// <summary>Last layer's weight (the original's <c>get_last_layer()</c>, for the adaptive GAN weight).</summary>
    public Parameter LastLayerWeight => conv_out.Weight;

    public Module<Tensor, Tensor> ConvIn => conv_in;
    public Module<Tensor, Tensor> Mid => mid;

    // z: [B, T, h, w] -> x: [B, 3, h*f, w*f] (unclamped). Submodules run through call() so that forward hooks see them.
    public override Tensor forward(Tensor z) => ModuleExtensions.Scoped(() =>
    {
        var x = mid.call(conv_in.call(z));
        IEnumerable<ResidualStage> order = _legacy ? up.Reverse() : up;
        foreach (var stage in order) x = stage.call(x);
        return conv_out.call(F.silu(norm_out.call(x)));
    });
}
