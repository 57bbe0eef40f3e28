using System.Reflection;

namespace MaskBit.Training;

/// <summary>The GAN objectives of the original's <c>gan_utils.py</c> (fidelity 3.2) on discriminator logits.</summary>
public static class GanLosses
{
    public static readonly IReadOnlyList<string> Names = ["hinge", "vanilla", "non-saturating"];

    /// <summary>Discriminator loss of <paramref name="name"/> on real and fake logits (scalar).</summary>
    public static Tensor DiscriminatorLoss(string name, Tensor logitsReal, Tensor logitsFake) => name switch
    {
        "hinge" => F.relu(logitsReal.negative().add(Const(1), One)).mean()
            .add(F.relu(logitsFake.add(Const(1), One)).mean(), One).mul(Const(0.5)),
        "vanilla" => Softplus(-logitsReal).mean().add(Softplus(logitsFake).mean(), One).mul(Const(0.5)),
        "non-saturating" => BceWithLogits(logitsReal, 1.0).add(BceWithLogits(logitsFake, 0.0), One),
        _ => throw new ArgumentException($"losses.discriminator_loss must be one of {string.Join(", ", Names)}, got '{name}'"),
    };

    /// <summary>Generator loss on fake logits: -mean(D(x̂)) for hinge and vanilla (the original uses the hinge
    /// generator loss for both), BCE towards "real" for non-saturating.</summary>
    public static Tensor GeneratorLoss(string name, Tensor logitsFake) => name switch
    {
        "hinge" or "vanilla" => -logitsFake.mean(),
        "non-saturating" => BceWithLogits(logitsFake, 1.0),
        _ => throw new ArgumentException($"losses.discriminator_loss must be one of {string.Join(", ", Names)}, got '{name}'"),
    };

    // mean(max(l, 0) - l*z + log1p(exp(-|l|))): the numerically stable BCE-with-logits the original writes out.
    static Tensor BceWithLogits(Tensor logits, double target) =>
        (logits.clamp_min(Const(0)) - logits.mul(Const(target))).add((-logits.abs()).exp().log1p(), One).mean();

    static MethodInfo? _softplus;

    // F.softplus(x) is x.softplus1(beta: 1.0, threshold: 20.0) with implicit Scalars; softplus1 is private, hence reflection.
    static Tensor Softplus(Tensor x)
    {
        _softplus ??= typeof(Tensor).GetMethod("softplus1", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(Scalar), typeof(Scalar)])
            ?? throw new MissingMethodException("TorchSharp.torch.Tensor.softplus1(Scalar, Scalar) is gone: update GanLosses.Softplus for this TorchSharp");
        return (Tensor)_softplus.Invoke(x, BindingFlags.DoNotWrapExceptions, null, [Const(1.0), Const(20.0)], null)!;
    }

    /// <summary>
    /// LeCam regularisation: mean(relu(mean(D(x)) - ema_fake)^2) + mean(relu(ema_real - mean(D(x̂)))^2), with the EMA
    /// buffers of the loss module taken before they are updated.
    /// </summary>
    public static Tensor LeCam(Tensor realMean, Tensor fakeMean, Tensor emaReal, Tensor emaFake) =>
        F.relu(realMean - emaFake).pow(Const(2)).mean().add(F.relu(emaReal - fakeMean).pow(Const(2)).mean(), One);
}
