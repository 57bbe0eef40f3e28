using static TorchSharp.torch.nn;

namespace MaskBit.Nn;

/// <summary>
/// <c>torch.nn.Conv2d</c> (square kernel, zero padding, parameters <c>weight</c>/<c>bias</c> as PyTorch names them)
/// computed through <see cref="ConvWorkaround"/>, for networks that are trained or backpropagated through. Padding is
/// symmetric unless <c>paddingEnd</c> gives a different bottom/right amount (CNTK's asymmetric "same" padding).
/// </summary>
public sealed class TrainableConv2d : Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter? bias;
    readonly long _stride, _padding, _paddingEnd;

    /// <param name="padding">Zero rows/columns added at the top and left (and bottom/right unless <paramref name="paddingEnd"/> is given).</param>
    /// <param name="paddingEnd">Zero rows/columns added at the bottom and right, when they differ from <paramref name="padding"/>.</param>
    public TrainableConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true, long? paddingEnd = null)
        : base(nameof(TrainableConv2d))
    {
        (_stride, _padding, _paddingEnd) = (stride, padding, paddingEnd ?? padding);
        weight = Parameter(empty(outChannels, inChannels, kernelSize, kernelSize));
        this.bias = bias ? Parameter(empty(outChannels)) : null;
        Init.ResetConv(weight, this.bias);
        RegisterComponents();
    }

    // x: [B, Cin, H, W] -> [B, Cout, (H + p + pEnd - k) / s + 1, ...]
    public override Tensor forward(Tensor x)
    {
        if (_padding > 0 || _paddingEnd > 0) x = F.pad(x, [_padding, _paddingEnd, _padding, _paddingEnd]); // left, right, top, bottom
        return ConvWorkaround.Conv2d(x, weight, bias, _stride);
    }
}
