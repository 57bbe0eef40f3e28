using static TorchSharp.torch.nn;

namespace MaskBit.Nn;

/// <summary>
/// <c>torch.nn.BatchNorm2d</c> (affine, running statistics; keys <c>weight</c>, <c>bias</c>, <c>running_mean</c>,
/// <c>running_var</c>, <c>num_batches_tracked</c> in PyTorch's order). Why not TorchSharp's: in training mode its
/// forward counts batches with <c>num_batches_tracked.add_(1)</c>, an implicit Scalar that a garbage collection can free
/// while libtorch reads it (<see cref="Scalars"/>).
/// </summary>
public sealed class BatchNorm2d : Module<Tensor, Tensor>
{
    public readonly Parameter weight, bias;
    public readonly Tensor running_mean, running_var, num_batches_tracked;
    readonly double _eps, _momentum;

    public BatchNorm2d(long features, double eps = 1e-5, double momentum = 0.1) : base(nameof(BatchNorm2d))
    {
        (_eps, _momentum) = (eps, momentum);
        weight = Parameter(ones(features));
        bias = Parameter(zeros(features));
        running_mean = zeros(features);
        running_var = ones(features);
        num_batches_tracked = tensor(0L);
        RegisterComponents();
    }

    // x: [B, C, H, W] -> [B, C, H, W]; training normalises with the batch's statistics and updates the running ones.
    public override Tensor forward(Tensor x)
    {
        if (x.ndim != 4) throw new ArgumentException($"BatchNorm2d expects [B, C, H, W], got [{string.Join(", ", x.shape)}]");
        if (training) num_batches_tracked.add_(One, One);
        return F.batch_norm(x, running_mean, running_var, weight, bias, training, _momentum, _eps);
    }
}
