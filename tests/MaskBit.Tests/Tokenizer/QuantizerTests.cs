using MaskBit.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Tokenizer;

public class QuantizerTests
{
    [Theory]
    [InlineData(10)]
    [InlineData(14)]
    public void LfqIndicesAndBitsRoundTripForEveryCode(int bits)
    {
        using var scope = NewDisposeScope();
        var q = new LookupFreeQuantizer(bits);
        var all = arange(1L << bits).reshape(1, 1, -1);
        var entries = q.GetCodebookEntry(all); // [1, 1, 2^T, T]
        Assert.Equal(new long[] { 1, 1, 1L << bits, bits }, entries.shape);
        Assert.True(q.ConvertBitsToIndices(entries).eq(all).all().item<bool>());
    }

    [Fact]
    public void LfqBitOrderIsLsbFirstAndZeroMapsToMinusOne()
    {
        using var scope = NewDisposeScope();
        var q = new LookupFreeQuantizer(4, entropyLossWeight: 0);
        q.eval();
        // z: [1, 4, 1, 3]; channel c is bit c. Column 0: bits 1,0,1,1 -> 1 + 4 + 8 = 13; column 1: only exact zeros -> 0;
        // column 2: -0.0 and a tiny positive in channel 3 -> 8.
        var z = tensor(new float[] { 0.5f, 0f, -0f, -1f, 0f, -0f, 2f, 0f, -0f, 3f, 0f, 1e-7f }).reshape(1, 4, 1, 3);
        var r = q.forward(z);
        Assert.Equal(new long[] { 13, 0, 8 }, r.MinEncodingIndices.flatten().data<long>().ToArray());
        var expected = tensor(new float[] { 1, -1, -1, -1, -1, -1, 1, -1, -1, 1, -1, 1 }).reshape(1, 4, 1, 3);
        Assert.True(r.Quantized.allclose(expected, atol: 1e-6));
        Assert.Equal(0f, r.EntropyLoss.item<float>());
    }

    [Fact]
    public void LfqBuffersAreTheDeterministicCodebook()
    {
        using var scope = NewDisposeScope();
        var sd = new LookupFreeQuantizer(3).state_dict();
        Assert.Equal(new[] { "bits_to_indices", "codebook" }, sd.Keys.ToArray());
        Assert.Equal(new[] { 1, 2, 4 }, sd["bits_to_indices"].data<int>().ToArray());
        Assert.Equal(int32, sd["bits_to_indices"].dtype);
        // Row 6 = bits (0,1,1) -> (-1, +1, +1).
        Assert.Equal(new float[] { -1, 1, 1 }, sd["codebook"][6].data<float>().ToArray());
    }

    [Fact]
    public void LfqEntropyTermsOnlyInTrainingAndStraightThroughGradientIsIdentityPlusCommitment()
    {
        using var scope = NewDisposeScope();
        var q = new LookupFreeQuantizer(5, commitmentCost: 0.25, entropyLossWeight: 0.0);
        q.train();
        var z = randn(2, 5, 3, 3, generator: new Generator(1).manual_seed(1)).requires_grad_(true);
        var r = q.forward(z);
        Assert.Equal(0f, r.EntropyLoss.item<float>());
        (r.Quantized.sum() + r.QuantizerLoss).backward();
        // d/dz [sum(z + (zq - z).detach())] = 1; d/dz [0.25 mean((zq - z)^2)] = -0.5 (zq - z) / numel
        var zq = where(z > 0, 1f, -1f);
        var expected = 1 - 0.5 * (zq - z.detach()) / z.numel();
        Assert.True(z.grad!.allclose(expected, atol: 1e-6));

        var withEntropy = new LookupFreeQuantizer(5, entropyLossWeight: 0.1);
        withEntropy.train();
        Assert.NotEqual(0f, withEntropy.forward(z.detach()).EntropyLoss.item<float>());
        withEntropy.eval();
        Assert.Equal(0f, withEntropy.forward(z.detach()).EntropyLoss.item<float>());
    }

    [Fact]
    public void EntropyLossOfUniformAffinityIsLogK()
    {
        using var scope = NewDisposeScope();
        var (perSample, avg) = QuantizerUtils.EntropyLoss(zeros(4, 8), temperature: 0.01, entropyGamma: 2.0);
        Assert.Equal(Math.Log(8), perSample.item<float>(), 5);
        Assert.Equal(2 * Math.Log(8), avg.item<float>(), 5);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VectorQuantizerPicksTheNearestEntry(bool l2)
    {
        using var scope = NewDisposeScope();
        var q = new SimpleVectorizer(codebookSize: 4, tokenSize: 2, useL2Normalisation: l2);
        using (no_grad())
            q.state_dict()["embedding.weight"].copy_(tensor(new float[] { 1, 0, 0, 1, -1, 0, 0, -1 }).reshape(4, 2));
        q.eval();
        // z: [1, 2, 1, 4] pointing near entries 2, 1, 0, 3.
        var z = tensor(new float[] { -0.9f, 0.1f, 0.8f, -0.1f, 0.1f, 0.7f, -0.2f, -0.95f }).reshape(1, 2, 1, 4);
        var r = q.forward(z);
        Assert.Equal(new long[] { 2, 1, 0, 3 }, r.MinEncodingIndices.flatten().data<long>().ToArray());
        Assert.NotNull(r.CodebookLoss);
        var entries = q.GetCodebookEntry(r.MinEncodingIndices).permute(0, 3, 1, 2);
        Assert.True(r.Quantized.allclose(entries, atol: 1e-6));
    }
}
