using static TorchSharp.torch.nn;

namespace MaskBit.Nn;

/// <summary>
/// WORKAROUNDS for two defects of the oneDNN inside libtorch 2.10 (v3.7.1), seen on AMD Zen 5 (AVX-512); both hit
/// only the input gradient of float32 convolutions on the CPU (forward results and weight gradients are right):
/// <list type="number">
/// <item>Output-channel counts that are not a multiple of 16: the input gradient is wrong, or NaN, from run to run
/// (the padded channels of the blocked gradient layout are read unzeroed). Fix: pad the filters with zero filters to a
/// multiple of 16 and drop the extra output channels (the decoder's 3-channel <c>conv_out</c>, the discriminator's
/// 1-channel logits).</item>
/// <item>1x1 convolutions with stride &gt; 1 (ResNet-50's projection shortcuts): the backward pass crashes the process
/// for some channel counts and sizes. Fix: subsample the input, then a stride-1 1x1 convolution (the same values).</item>
/// </list>
/// Both apply only while the input needs a gradient on the CPU, so inference runs the plain kernels.
/// </summary>
public static class ConvWorkaround
{
    const long Block = 16;

    /// <summary><c>F.conv2d</c> without padding. x: [B, Cin, H, W], weight: [Cout, Cin, k, k] -> [B, Cout, H', W'].</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride = 1, long dilation = 1)
    {
        if (!x.requires_grad || !torch.is_grad_enabled() || x.device_type != DeviceType.CPU)
            return F.conv2d(x, weight, bias, strides: [stride, stride], dilation: [dilation, dilation]);
        if (stride > 1 && weight.shape[2] == 1 && weight.shape[3] == 1)
        {
            x = x[.., .., TensorIndex.Slice(0, null, stride), TensorIndex.Slice(0, null, stride)];
            stride = 1;
        }
        long outChannels = weight.shape[0], extra = (Block - outChannels % Block) % Block;
        if (extra == 0) return F.conv2d(x, weight, bias, strides: [stride, stride], dilation: [dilation, dilation]);
        var padded = F.pad(weight, [0, 0, 0, 0, 0, 0, 0, extra]);
        var paddedBias = bias is null ? null : F.pad(bias, [0, extra]);
        return F.conv2d(x, padded, paddedBias, strides: [stride, stride], dilation: [dilation, dilation]).narrow(1, 0, outChannels);
    }
}
