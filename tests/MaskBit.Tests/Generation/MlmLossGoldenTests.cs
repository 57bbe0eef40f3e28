using MaskBit.Generation;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generation;

/// <summary>Parity of <see cref="MlmLoss"/> with the original (golden kind "loss": E).</summary>
public class MlmLossGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("loss");

    [GoldenTheory("loss"), MemberData(nameof(Cases))]
    public void LossLoggedValuesAndGradientMatch(string name)
    {
        var c = Golden.Case(name);
        foreach (var suffix in new[] { "", "_random" })
        {
            using var scope = NewDisposeScope();
            var logits = c[$"logits{suffix}"].clone().requires_grad_(true);
            var masks = c[$"masks{suffix}"].to_type(ScalarType.Bool);
            var output = new MlmLoss(labelSmoothing: 0.1).Forward(logits, c["targets"], masks);
            c.AssertClose($"loss{suffix}", output.Loss);
            c.AssertClose($"correct_tokens{suffix}", output.CorrectTokens);
            c.AssertClose($"masked_token_loss{suffix}", output.MaskedTokenLoss);
            c.AssertClose($"masked_correct_tokens{suffix}", output.MaskedCorrectTokens);
            output.Loss.backward();
            c.AssertClose($"grad_logits{suffix}", logits.grad!);
            Assert.False(output.MaskedTokenLoss.requires_grad, "the logged values are detached");
        }
        using var s2 = NewDisposeScope();
        var summed = new MlmLoss(labelSmoothing: 0.1, sumSplits: true).Forward(c["logits"], c["targets"], c["masks"].to_type(ScalarType.Bool));
        c.AssertClose("loss_sum_splits", summed.Loss);
        c.AssertClose("masked_token_loss_sum_splits", summed.MaskedTokenLoss);
    }

    [Fact]
    public void MismatchedShapesAreRejectedInOneLine()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => new MlmLoss().Forward(zeros(2, 4, 2, 8), zeros(2, 4, 1, dtype: ScalarType.Int64), zeros(2, 4, 1, dtype: ScalarType.Bool)));
        Assert.DoesNotContain('\n', ex.Message);
    }
}
