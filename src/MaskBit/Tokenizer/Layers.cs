using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>
/// <c>Conv2dSame</c>: a plain convolution (padding 0) preceded by TensorFlow-style SAME zero padding.
/// Per spatial dim pad = max((ceil(i/s)-1)*s + (k-1)*d + 1 - i, 0), split floor on top/left and the rest on
/// bottom/right, so a stride-2 3x3 conv on an even size pads 0 top/left and 1 bottom/right (asymmetric):
/// the released weights were trained with exactly this padding.
/// Parameters are named <c>weight</c>/<c>bias</c> like the original's nn.Conv2d subclass.
/// </summary>
public sealed class Conv2dSame : Module<Tensor, Tensor>
{
    readonly long _stride, _dilation, _kernel;
    readonly Parameter weight;
    readonly Parameter? bias;

    public Conv2dSame(long inChannels, long outChannels, long kernelSize, long stride = 1, bool bias = true, long dilation = 1)
        : base(nameof(Conv2dSame))
    {
        _stride = stride; _dilation = dilation; _kernel = kernelSize;
        weight = Parameter(empty(outChannels, inChannels, kernelSize, kernelSize));
        this.bias = bias ? Parameter(empty(outChannels)) : null;
        Init.ResetConv(weight, this.bias);
        RegisterComponents();
    }

    public Parameter Weight => weight;

    // x: [B, Cin, H, W] -> [B, Cout, ceil(H/s), ceil(W/s)]
    public override Tensor forward(Tensor x)
    {
        long PadFor(long size) => Math.Max((long)(Math.Ceiling(size / (double)_stride) - 1) * _stride + (_kernel - 1) * _dilation + 1 - size, 0);
        long ph = PadFor(x.shape[^2]), pw = PadFor(x.shape[^1]);
        if (ph == 0 && pw == 0) return ConvWorkaround.Conv2d(x, weight, bias, _stride, _dilation);
        // The padded copy is freed at once (a full-resolution feature map is 32 MiB at 256x256, 128 channels).
        using var padded = F.pad(x, [pw / 2, pw - pw / 2, ph / 2, ph - ph / 2]);
        return ConvWorkaround.Conv2d(padded, weight, bias, _stride, _dilation);
    }
}
