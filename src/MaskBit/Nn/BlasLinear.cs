using MaskBit.Native;

namespace MaskBit.Nn;

/// <summary>
/// <c>torch.nn.Linear</c> with the same parameters (<c>weight</c> [out, in], <c>bias</c> [out], hence the same
/// state-dict keys) and PyTorch's default initialisation, whose forward multiplies through <see cref="Blas.Linear"/>:
/// an external CBLAS (OpenBLAS) at inference on the CPU, libtorch's <c>F.linear</c> otherwise. The generator's layers
/// are these; TorchSharp's <c>Linear</c> is sealed.
/// </summary>
public sealed class BlasLinear : nn.Module<Tensor, Tensor>
{
    // Field names = torch.nn.Linear's attribute names (state-dict keys).
    public Parameter weight;
    public Parameter? bias;

    public BlasLinear(long inFeatures, long outFeatures, bool hasBias = true) : base(nameof(BlasLinear))
    {
        weight = new Parameter(torch.empty(outFeatures, inFeatures));
        bias = hasBias ? new Parameter(torch.empty(outFeatures)) : null;
        Init.ResetConv(weight, bias);
        RegisterComponents();
    }

    /// <summary>x: [..., in] -> [..., out].</summary>
    public override Tensor forward(Tensor x) => Blas.Linear(x, weight, bias);
}
