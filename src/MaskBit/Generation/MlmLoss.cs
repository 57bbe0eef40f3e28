namespace MaskBit.Generation;

/// <summary>What <see cref="MlmLoss"/> returns: the loss to optimise and the detached values the original logs.</summary>
public sealed record MlmLossOutput(Tensor Loss, Tensor CorrectTokens, Tensor MaskedTokenLoss, Tensor MaskedCorrectTokens);

/// <summary>
/// The generator objective (modeling/modules/losses.py <c>MLMLoss</c>): cross entropy with label smoothing over
/// ALL B*N*splits elements, masked and visible alike (the original trains the model to reproduce visible tokens
/// too), mean reduction; multiplied by the number of splits when <c>sumSplits</c>.
/// </summary>
public sealed class MlmLoss(double labelSmoothing = 0.1, bool sumSplits = false)
{
    public double LabelSmoothing { get; } = labelSmoothing;
    public bool SumSplits { get; } = sumSplits;

    /// <summary>logits: [B, N, m, E]; targets: [B, N, m] int64 ground-truth split tokens; masks: [B, N, m] bool.</summary>
    public MlmLossOutput Forward(Tensor logits, Tensor targets, Tensor masks)
    {
        if (logits.dim() != 4 || !targets.shape.SequenceEqual(logits.shape[..3]) || !masks.shape.SequenceEqual(targets.shape))
            throw new ArgumentException($"MLM loss expects logits [B,N,m,E], targets and masks [B,N,m]; got [{string.Join(",", logits.shape)}], [{string.Join(",", targets.shape)}], [{string.Join(",", masks.shape)}]");
        long m = logits.shape[2], e = logits.shape[3];
        using var scope = NewDisposeScope();
        var loss = F.cross_entropy(logits.reshape(-1, e), targets.reshape(-1), label_smoothing: LabelSmoothing);
        Tensor correctTokens, maskedLoss, maskedCorrect;
        using (torch.no_grad())
        {
            correctTokens = logits.argmax(-1).eq(targets).to_type(ScalarType.Float32).mean().pow(Const(m));
            var selected = masks.to_type(ScalarType.Bool);
            var maskedLogits = logits.detach().index(TensorIndex.Tensor(selected)); // [K, E]
            var maskedTargets = targets.index(TensorIndex.Tensor(selected));        // [K]
            maskedLoss = F.cross_entropy(maskedLogits, maskedTargets, label_smoothing: LabelSmoothing);
            maskedCorrect = maskedLogits.argmax(-1).eq(maskedTargets).to_type(ScalarType.Float32).mean().pow(Const(m));
        }
        if (SumSplits)
        {
            loss = loss.mul(Const(m));
            maskedLoss = maskedLoss.mul(Const(m));
        }
        return new MlmLossOutput(loss.MoveToOuterDisposeScope(), correctTokens.MoveToOuterDisposeScope(),
            maskedLoss.MoveToOuterDisposeScope(), maskedCorrect.MoveToOuterDisposeScope());
    }
}
