using MaskBit.Generation;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generation;

public class FactorizationAndMaskingTests
{
    [Theory]
    [InlineData(1024, 2)]
    [InlineData(262144, 2)]
    [InlineData(4096, 3)]
    [InlineData(1024, 1)]
    public void SplitThenCombineIsTheIdentityWithLowBitsFirst(int codebookSize, int splits)
    {
        using var scope = NewDisposeScope();
        var tokens = randint(0, codebookSize, [3, 16], generator: new Generator(1));
        var split = Factorization.Split(tokens, codebookSize, splits);
        Assert.Equal([3L, 16, splits], split.shape);
        int eb = Factorization.BitsPerSplit(codebookSize, splits);
        Assert.True(split.select(2, 0).eq(tokens.remainder(1L << eb)).all().item<bool>(), "split 0 holds the low bits");
        Assert.True(Factorization.CombineToLong(split, codebookSize, splits).eq(tokens).all().item<bool>());
        var asFloat = Factorization.Combine(split, codebookSize, splits);
        Assert.Equal(ScalarType.Float32, asFloat.dtype);
        Assert.True(asFloat.eq(tokens.to_type(ScalarType.Float32)).all().item<bool>());
    }

    [Fact]
    public void BitsThatDoNotDivideIntoSplitsAreDroppedFromTheTop()
    {
        using var scope = NewDisposeScope();
        var tokens = tensor(new long[] { 0b10_1111_0001, 0b11_0000_1111 }).view(1, 2); // 10 bits, 3 splits of 3 bits
        var back = Factorization.CombineToLong(Factorization.Split(tokens, 1024, 3), 1024, 3);
        Assert.Equal(new long[] { 0b0_1111_0001, 0b1_0000_1111 }, back.data<long>().ToArray()); // top (10th) bit lost
    }

    [Fact]
    public void MaskTokensReplaceExactlyTheMaskedElements()
    {
        using var scope = NewDisposeScope();
        var tokens = randint(0, 32, [4, 64, 2], generator: new Generator(2));
        var (masked, mask) = Masking.GetMaskTokens(tokens, 32, "cosine", new Generator(3), minMaskingRatio: 0.5);
        Assert.Equal(ScalarType.Bool, mask.dtype);
        Assert.True(masked.eq(32).eq(mask).all().item<bool>());
        Assert.True(masked.masked_select(mask.logical_not()).eq(tokens.masked_select(mask.logical_not())).all().item<bool>());
        // min_masking_ratio 0.5 keeps r below 0.5, so cos(r*pi/2) > 0.7: most elements are masked.
        Assert.True(mask.to_type(ScalarType.Float32).mean().item<float>() > 0.6f);
    }

    [Fact]
    public void SchedulesAtTheEnds()
    {
        foreach (var mode in new[] { "root", "square", "cosine", "arccos", "linear" })
        {
            Assert.Equal(1f, Masking.GetMaskingRatio(0.0, mode));
            Assert.Equal(1e-6f, Masking.GetMaskingRatio(1.0, mode)); // clamped, never 0
        }
    }

    [Fact]
    public void UnknownModesAreRejectedInOneLine()
    {
        using var scope = NewDisposeScope();
        var tokens = zeros(1, 4, 2, ScalarType.Int64);
        foreach (var action in new Action[]
        {
            () => Masking.GetMaskingRatio(0.5, "cubic"),
            () => Masking.GetMaskTokens(tokens, 32, "root"), // root is a generation-only schedule, as in the original
            () => Masking.TrainMaskProbability(tensor(0.5f), "cubic"),
        })
        {
            var ex = Assert.Throws<ArgumentException>(action);
            Assert.DoesNotContain('\n', ex.Message);
        }
    }
}
