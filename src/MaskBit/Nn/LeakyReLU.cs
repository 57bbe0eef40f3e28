using static TorchSharp.torch.nn;

namespace MaskBit.Nn;

/// <summary>
/// <c>torch.nn.LeakyReLU</c>. Why not TorchSharp's: it passes its slope to libtorch as an implicit Scalar, which a
/// garbage collection can free while libtorch reads it (<see cref="Scalars"/>).
/// </summary>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module<Tensor, Tensor>(nameof(LeakyReLU))
{
    readonly Scalar _slope = Const(negativeSlope);

    // x: [...] -> [...]
    public override Tensor forward(Tensor x) => x.leaky_relu(_slope);
}
