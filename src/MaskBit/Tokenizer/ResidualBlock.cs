using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>
/// VQGAN+ residual block: GN -> SiLU -> conv3x3 -> GN -> SiLU -> conv3x3 (convs without bias).
/// QUIRK (kept for the released weights): when the channel count changes the shortcut is applied to the
/// block's own output, <c>h + nin_shortcut(h)</c>, and the input is dropped — a bug inherited from the
/// MaskGIT JAX tokenizer. Hence <c>nin_shortcut.weight</c> is [out, out, 1, 1], not [out, in, 1, 1].
/// </summary>
public sealed class ResidualBlock : Module<Tensor, Tensor>
{
    readonly GroupNorm norm1;
    readonly Conv2dSame conv1;
    readonly GroupNorm norm2;
    readonly Conv2dSame conv2;
    readonly Conv2dSame? nin_shortcut;

    public ResidualBlock(long inChannels, long outChannels) : base(nameof(ResidualBlock))
    {
        norm1 = Init.GroupNorm(inChannels);
        conv1 = new Conv2dSame(inChannels, outChannels, 3, bias: false);
        norm2 = Init.GroupNorm(outChannels);
        conv2 = new Conv2dSame(outChannels, outChannels, 3, bias: false);
        if (inChannels != outChannels)
            nin_shortcut = new Conv2dSame(outChannels, outChannels, 1, bias: false);
        RegisterComponents();
    }

    // x: [B, Cin, H, W] -> [B, Cout, H, W]
    // Each intermediate is freed as soon as the next exists, so at most three feature maps are alive at a time (at
    // 256x256 with 128 channels each is 32 MiB; autograd keeps what backward needs on its own).
    public override Tensor forward(Tensor x) => ModuleExtensions.Scoped(() =>
    {
        Tensor h;
        using (var a = Activate(norm1, x)) h = conv1.forward(a);
        using (var c = h)
        using (var a = Activate(norm2, c)) h = conv2.forward(a);
        return nin_shortcut is null ? h.add(x, One) : h.add(nin_shortcut.forward(h), One);
    });

    // silu(norm(x)), the normalised copy freed on return.
    static Tensor Activate(GroupNorm norm, Tensor x)
    {
        using var n = norm.forward(x);
        return F.silu(n);
    }
}

/// <summary><c>ResidualStage</c>: <c>res_blocks</c> (first in->out, the rest out->out), optionally followed by a
/// resampling step: stride-2 <c>down_conv</c> or 2x2 average pooling (encoder), or nearest x2 upsampling then
/// <c>upsample_conv</c> (decoder). One class covers the original's ResidualStage, DownsamplingStage and
/// UpsamplingStage; the field names (and so the keys) are the original's.</summary>
public sealed class ResidualStage : Module<Tensor, Tensor>
{
    public enum Resample { None, DownConv, DownAvgPool, Up }

    readonly ModuleList<ResidualBlock> res_blocks;
    readonly Conv2dSame? down_conv;
    readonly Conv2dSame? upsample_conv;
    readonly Resample _resample;

    public ResidualStage(long inChannels, long outChannels, int numResBlocks, Resample resample = Resample.None)
        : base(nameof(ResidualStage))
    {
        _resample = resample;
        res_blocks = new ModuleList<ResidualBlock>();
        for (int i = 0; i < numResBlocks; i++)
            res_blocks.Add(new ResidualBlock(i == 0 ? inChannels : outChannels, outChannels));
        if (resample == Resample.DownConv) down_conv = new Conv2dSame(outChannels, outChannels, 3, stride: 2);
        if (resample == Resample.Up) upsample_conv = new Conv2dSame(outChannels, outChannels, 3);
        RegisterComponents();
    }

    // x: [B, Cin, H, W] -> [B, Cout, H', W'] with H' = H/2 (down), 2H (up) or H
    // The blocks' outputs are freed when the stage returns (ModuleExtensions.Scoped). The config validation gives every
    // stage at least one block, so the result is a new tensor, never the input.
    public override Tensor forward(Tensor x) => ModuleExtensions.Scoped(() =>
    {
        foreach (var block in res_blocks) x = block.forward(x);
        return _resample switch
        {
            Resample.DownConv => down_conv!.forward(x),
            Resample.DownAvgPool => F.avg_pool2d(x, 2, 2),
            Resample.Up => Upsample(x),
            _ => x,
        };
    });

    // Nearest x2 then upsample_conv; the enlarged copy is freed once convolved.
    Tensor Upsample(Tensor x)
    {
        using var up = F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return upsample_conv!.forward(up);
    }
}
