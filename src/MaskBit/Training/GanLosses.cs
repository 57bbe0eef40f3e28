namespace MaskBit.Training;

/// <summary>The GAN objectives of the original's <c>gan_utils.py</c> (spec 3.2) on discriminator logits.</summary>
public static class GanLosses
{
    public static readonly IReadOnlyList<string> Names = ["hinge", "vanilla", "non-saturating"];

    /// <summary>Discriminator loss of <paramref name="name"/> on real and fake logits (scalar).</summary>
    public static Tensor DiscriminatorLoss(string name, Tensor logitsReal, Tensor logitsFake) => name switch
    {
        "hinge" => 0.5 * (F.relu(1 - logitsReal).mean() + F.relu(1 + logitsFake).mean()),
        "vanilla" => 0.5 * (F.softplus(-logitsReal).mean() + F.softplus(logitsFake).mean()),
        "non-saturating" => BceWithLogits(logitsReal, 1.0) + BceWithLogits(logitsFake, 0.0),
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
        (logits.clamp_min(0) - logits * target + (-logits.abs()).exp().log1p()).mean();

    /// <summary>
    /// LeCam regularisation: mean(relu(mean(D(x)) - ema_fake)^2) + mean(relu(ema_real - mean(D(x̂)))^2), with the EMA
    /// buffers of the loss module taken before they are updated.
    /// </summary>
    public static Tensor LeCam(Tensor realMean, Tensor fakeMean, Tensor emaReal, Tensor emaFake) =>
        F.relu(realMean - emaFake).pow(2).mean() + F.relu(emaReal - fakeMean).pow(2).mean();
}
