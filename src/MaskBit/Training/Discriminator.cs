using MaskBit.Config;
using MaskBit.Tokenizer;
using static TorchSharp.torch.nn;

namespace MaskBit.Training;

/// <summary>
/// <c>BlurBlock</c>: anti-aliased stride-2 downsampling of the VQGAN+ discriminator: SAME padding for stride 2, then a
/// fixed depthwise binomial filter (buffer <c>kernel</c> = outer(k, k) / sum, [1, 1, L, L]) applied with stride 2.
/// </summary>
public sealed class BlurBlock : Module<Tensor, Tensor>
{
    readonly Tensor kernel;
    readonly int _size;

    public BlurBlock(int kernelSize) : base(nameof(BlurBlock))
    {
        double[] k = kernelSize switch
        {
            3 => [1, 2, 1],
            4 => [1, 3, 3, 1],
            5 => [1, 4, 6, 4, 1],
            _ => throw new ArgumentException($"model.discriminator.blur_kernel_size must be 3, 4 or 5, got {kernelSize}"),
        };
        _size = kernelSize;
        using var v = tensor(k, float32);
        var outer = v.outer(v);
        kernel = (outer / outer.sum()).reshape(1, 1, kernelSize, kernelSize);
        RegisterComponents();
    }

    // x: [B, C, H, W] -> [B, C, ceil(H/2), ceil(W/2)]
    public override Tensor forward(Tensor x)
    {
        long Pad(long size) => Math.Max((long)(Math.Ceiling(size / 2.0) - 1) * 2 + _size - size, 0);
        long ph = Pad(x.shape[2]), pw = Pad(x.shape[3]);
        x = F.pad(x, [pw / 2, pw - pw / 2, ph / 2, ph - ph / 2]);
        var weight = kernel.to(x.dtype).expand(x.shape[1], 1, _size, _size);
        return F.conv2d(x, weight, strides: [2, 2], groups: x.shape[1]);
    }
}

/// <summary>
/// "VQGAN+Discriminator" (<c>NLayerDiscriminatorv2</c>, fidelity 3.1): block_in (conv 5x5) -> stages of
/// [conv 3x3, blur (or 2x2 average pool), GroupNorm(32, eps 1e-5), LeakyReLU(0.1)] doubling the width ->
/// adaptive max pool to 16x16 -> to_logits (conv 1x1, LeakyReLU, conv 5x5 to one channel). Patch logits [B, 1, 16, 16].
/// Field names are the original's attributes, so the keys match its checkpoints (prefixed <c>discriminator.</c> there).
/// </summary>
public sealed class Discriminator : Module<Tensor, Tensor>
{
    readonly Sequential block_in;
    readonly ModuleList<Sequential> blocks;
    readonly Sequential to_logits;

    public Discriminator(DiscriminatorConfig c) : base(nameof(Discriminator))
    {
        if (c.Name != "VQGAN+Discriminator")
            throw new ArgumentException($"model.discriminator.name: only 'VQGAN+Discriminator' is implemented, got '{c.Name}'");
        long h = c.HiddenChannels;
        var mult = new long[c.NumStages + 1];
        mult[0] = 1;
        for (int t = 0; t < c.NumStages; t++) mult[t + 1] = 1L << t;
        block_in = Sequential(("0", new Conv2dSame(c.NumChannels, h, 5)), ("1", new LeakyReLU(0.1)));
        blocks = new ModuleList<Sequential>();
        for (int i = 0; i < c.NumStages; i++)
        {
            long cin = h * mult[i], cout = h * mult[i + 1];
            Module<Tensor, Tensor> resample = c.BlurResample ? new BlurBlock(c.BlurKernelSize) : AvgPool2d(2, 2);
            blocks.Add(Sequential(("0", new Conv2dSame(cin, cout, 3)), ("1", resample), ("2", Init.GroupNorm(cout, eps: 1e-5)), ("3", new LeakyReLU(0.1))));
        }
        long last = h * mult[^1];
        to_logits = Sequential(("0", new Conv2dSame(last, last, 1)), ("1", new LeakyReLU(0.1)), ("2", new Conv2dSame(last, 1, 5)));
        RegisterComponents();
    }

    // x: [B, C, H, W] in [0, 1] -> logits [B, 1, 16, 16]
    public override Tensor forward(Tensor x)
    {
        var h = block_in.call(x);
        foreach (var block in blocks) h = block.call(h);
        h = F.adaptive_max_pool2d(h, [16, 16]);
        return to_logits.call(h);
    }
}
