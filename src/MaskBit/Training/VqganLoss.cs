using MaskBit.Config;
using MaskBit.Distributed;
using MaskBit.Tokenizer;
using static TorchSharp.torch.nn;

namespace MaskBit.Training;

/// <summary>
/// The tokenizer's training objective (the original's <c>VQGANLoss</c>, fidelity 2.4 and 3): reconstruction, perceptual,
/// quantizer (with entropy annealing) and GAN terms for the autoencoder (<see cref="ForwardGenerator"/>), the
/// discriminator's hinge/vanilla/non-saturating loss with LeCam regularisation (<see cref="ForwardDiscriminator"/>).
/// Its state dict is the original's: <c>ema_real_logits_mean</c>, <c>ema_fake_logits_mean</c> (with LeCam), then
/// <c>discriminator.*</c>, then <c>perceptual_loss.*</c> when a perceptual network is plugged in.
/// </summary>
public sealed class VqganLoss : Module
{
    readonly Tensor? ema_real_logits_mean;
    readonly Tensor? ema_fake_logits_mean;
    readonly Discriminator discriminator;
    readonly Module<Tensor, Tensor, Tensor>? perceptual_loss;
    readonly LossesConfig _c;

    /// <param name="perceptual">The frozen perceptual network, <c>(input, target) -> per-image or scalar loss</c>;
    /// null trains without the perceptual term.</param>
    public VqganLoss(DiscriminatorConfig discriminatorConfig, LossesConfig losses, Module<Tensor, Tensor, Tensor>? perceptual = null)
        : base(nameof(VqganLoss))
    {
        _c = losses;
        if (!GanLosses.Names.Contains(losses.DiscriminatorLoss))
            throw new ArgumentException($"losses.discriminator_loss must be one of {string.Join(", ", GanLosses.Names)}, got '{losses.DiscriminatorLoss}'");
        if (losses.DiscriminatorGradientPenalty is not ("none" or "adopt_weight"))
            throw new ArgumentException($"losses.discriminator_gradient_penalty must be none or adopt_weight, got '{losses.DiscriminatorGradientPenalty}'");
        if (losses.ReconstructionLoss is not ("l1" or "l2"))
            throw new ArgumentException($"losses.reconstruction_loss must be l1 or l2, got '{losses.ReconstructionLoss}'");
        if (losses.LecamRegularizationWeight > 0)
        {
            ema_real_logits_mean = zeros(1);
            ema_fake_logits_mean = zeros(1);
        }
        discriminator = new Discriminator(discriminatorConfig);
        perceptual_loss = perceptual;
        RegisterComponents();
        if (perceptual is not null)
        {
            perceptual.eval();
            foreach (var p in perceptual.parameters()) p.requires_grad = false;
        }
    }

    public Discriminator Discriminator => discriminator;

    /// <summary>The processes whose rows together form the batch (data-parallel training): LeCam's logit means and the
    /// adaptive GAN weight's gradient norms are taken over all of them; one process by default. No state-dict key.</summary>
    public ProcessGroup BatchGroup { get; set; } = ProcessGroup.Single;

    /// <summary>The discriminator's parameters (what its optimizer updates; the perceptual network is frozen).</summary>
    public IEnumerable<(string name, Parameter parameter)> DiscriminatorParameters =>
        discriminator.named_parameters().Select(p => ("discriminator." + p.name, p.parameter));

    /// <summary>The state a checkpoint keeps: LeCam buffers and discriminator (the perceptual weights come from the user's file).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> TrainableState =>
        Interop.Checkpoint.StateDict(this).Where(e => !e.Key.StartsWith("perceptual_loss.", StringComparison.Ordinal))
            .Select(e => KeyValuePair.Create(e.Key, e.Tensor));

    /// <summary><c>adopt_weight</c>: 0 before <c>discriminator_start</c>, else the factor.</summary>
    public double DiscriminatorFactor(long step) => step < _c.DiscriminatorStart ? 0.0 : _c.DiscriminatorFactor;

    /// <summary>
    /// The autoencoder's loss at global step <paramref name="step"/> (fidelity 3.4): x [B, 3, H, W] in [0, 1], x̂ the
    /// unclamped reconstruction, the quantizer's train-mode result, and the decoder's last layer (for the adaptive
    /// GAN weight). Returns the total and the original's logged terms (detached).
    /// </summary>
    public (Tensor total, Dictionary<string, Tensor> logs) ForwardGenerator(Tensor inputs, Tensor reconstructions, QuantizerResult q,
        long step, Parameter lastLayer)
    {
        var rec = (_c.ReconstructionLoss == "l2" ? F.mse_loss(inputs, reconstructions) : F.l1_loss(inputs, reconstructions))
            .mul(Const(_c.ReconstructionWeight));
        var perceptual = perceptual_loss is null ? zeros_like(rec) : perceptual_loss.call(inputs, reconstructions).mean();

        double discFactor = DiscriminatorFactor(step);
        var gLoss = zeros_like(rec);
        var dWeight = tensor(_c.DiscriminatorWeight, rec.dtype, rec.device);
        if (discFactor > 0)
        {
            foreach (var p in discriminator.parameters()) p.requires_grad = false;
            gLoss = GanLosses.GeneratorLoss(_c.DiscriminatorLoss, discriminator.call(reconstructions));
            if (_c.DiscriminatorGradientPenalty == "adopt_weight")
                dWeight = dWeight * AdaptiveWeight(rec.add(perceptual.mul(Const(_c.PerceptualWeight)), One), gLoss, lastLayer, BatchGroup);
        }

        var quantizer = q.QuantizerLoss;
        if (_c.EntropyAnnealingFactor > 0)
        {
            using var annealing = (Math.Max(0.0, 1.0 - (double)step / _c.EntropyAnnealingSteps) * _c.EntropyAnnealingFactor).ToScalar();
            quantizer = quantizer.add(q.EntropyLoss.mul(annealing), One);
        }

        var weightedGan = dWeight.mul(Const(discFactor)) * gLoss;
        var total = rec.add(perceptual.mul(Const(_c.PerceptualWeight)), One).add(quantizer.mul(Const(_c.QuantizerWeight)), One)
            .add(weightedGan, One);
        var logs = new Dictionary<string, Tensor>
        {
            ["total_loss"] = total.detach(),
            ["reconstruction_loss"] = rec.detach(),
            ["perceptual_loss"] = perceptual.mul(Const(_c.PerceptualWeight)).detach(),
            ["quantizer_loss"] = quantizer.mul(Const(_c.QuantizerWeight)).detach(),
            ["weighted_gan_loss"] = weightedGan.detach(),
            ["discriminator_factor"] = tensor(discFactor),
            ["commitment_loss"] = q.CommitmentLoss.detach(),
            ["entropy_loss"] = q.EntropyLoss.detach(),
            ["per_sample_entropy"] = q.PerSampleEntropy.detach(),
            ["avg_entropy"] = q.AvgEntropy.detach(),
            ["d_weight"] = dWeight.detach(),
            ["gan_loss"] = gLoss.detach(),
        };
        if (q.CodebookLoss is not null) logs["codebook_loss"] = q.CodebookLoss.detach();
        return (total, logs);
    }

    // The mean over every process's rows (equal counts), differentiable; the local mean for one process.
    Tensor GlobalMean(Tensor t)
    {
        if (!BatchGroup.IsDistributed) return t.mean();
        using var size = ((double)BatchGroup.Size).ToScalar();
        return BatchGroup.Sum(t.mean()).div(size);
    }

    // VQGAN's adaptive weight: ||d nll / d last|| / (||d g / d last|| + 1e-4), clamped to [0, 1e4], detached.
    // Across processes, each gradient is the average of theirs: the global batch's.
    static Tensor AdaptiveWeight(Tensor nll, Tensor gLoss, Parameter lastLayer, ProcessGroup group)
    {
        var nllGrad = torch.autograd.grad([nll], [lastLayer], retain_graph: true)[0];
        var gGrad = torch.autograd.grad([gLoss], [lastLayer], retain_graph: true)[0];
        group.AllReduceMean([nllGrad, gGrad]);
        return (nllGrad.norm() / gGrad.norm().add(Const(1e-4), One)).clamp(Const(0.0), Const(1e4)).detach();
    }

    /// <summary>
    /// The discriminator's loss at global step <paramref name="step"/> (fidelity 3.5) on the same reconstruction,
    /// detached; updates the LeCam EMA buffers after computing the regulariser.
    /// </summary>
    public (Tensor total, Dictionary<string, Tensor> logs) ForwardDiscriminator(Tensor inputs, Tensor reconstructions, long step)
    {
        foreach (var p in discriminator.parameters()) p.requires_grad = true;
        var logitsReal = discriminator.call(inputs.detach());
        var logitsFake = discriminator.call(reconstructions.detach());
        var loss = GanLosses.DiscriminatorLoss(_c.DiscriminatorLoss, logitsReal, logitsFake).mul(Const(DiscriminatorFactor(step)));
        var lecam = zeros_like(loss);
        if (ema_real_logits_mean is not null && ema_fake_logits_mean is not null)
        {
            var (realMean, fakeMean) = (GlobalMean(logitsReal), GlobalMean(logitsFake));
            lecam = GanLosses.LeCam(realMean, fakeMean, ema_real_logits_mean, ema_fake_logits_mean).mul(Const(_c.LecamRegularizationWeight));
            using var _ = no_grad();
            ema_real_logits_mean.mul_(Const(_c.EmaDecay)).add_(realMean.detach(), alpha: Const(1 - _c.EmaDecay));
            ema_fake_logits_mean.mul_(Const(_c.EmaDecay)).add_(fakeMean.detach(), alpha: Const(1 - _c.EmaDecay));
        }
        var total = loss.add(lecam, One);
        return (total, new Dictionary<string, Tensor>
        {
            ["discriminator_loss"] = total.detach(),
            ["logits_real"] = logitsReal.detach().mean(),
            ["logits_fake"] = logitsFake.detach().mean(),
            ["lecam_loss"] = lecam.detach(),
        });
    }
}
