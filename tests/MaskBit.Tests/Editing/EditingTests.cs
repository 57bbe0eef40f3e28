using MaskBit.Editing;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Pipeline;
using MaskBit.Tests.Pipeline;
using static TorchSharp.torch;

namespace MaskBit.Tests.Editing;

/// <summary>The editing operations on the golden tiny models (32x32 images, 8x8 tokens of 10 bits, random generator).</summary>
public class EditingTests
{
    static MaskBitPipeline Load() =>
        MaskBitPipeline.Load(MaskBitPipelineTests.Config, MaskBitPipelineTests.TokenizerFile, MaskBitPipelineTests.GeneratorFile);

    static readonly SamplingOptions Fast = new() { NumSteps = 8, GuidanceScale = 2.0 };

    static Tensor Image(int seed) => rand(new long[] { 1, 3, 32, 32 }, generator: new Generator((ulong)seed));

    static TokenMask Box(int x0, int y0, int x1, int y1) =>
        new(8, 8, Enumerable.Range(0, 64).Select(i => i / 8 >= y0 && i / 8 < y1 && i % 8 >= x0 && i % 8 < x1));

    [Fact]
    public void InpaintingChangesOnlyTheMaskedTokensAndResamplesExactlyTheMasksShare()
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var x = cat([Image(1), Image(2)], 0);
        var before = pipeline.Tokenize(x).view(2, 8, 8);
        var mask = Box(2, 1, 6, 4);                                                        // 12 of 64 tokens
        var steps = new List<GenerationProgress>();
        using var result = pipeline.Inpaint(x, mask, 207, Fast, seed: 3, onProgress: steps.Add);
        var inside = mask.ToTensor().view(1, 8, 8);
        var changed = result.Tokens.ne(before);
        Assert.False(changed.logical_and(inside.logical_not()).any().item<bool>(), "a token outside the mask changed");
        // Random generator weights: every masked token is resampled and (almost surely) differs from the image's.
        Assert.Equal(12.0 / 64, mask.Coverage);
        Assert.True(changed.sum().item<long>() >= 2 * 12 - 3, $"only {changed.sum().item<long>()} of 24 masked tokens changed");
        Assert.Equal(new long[] { 2, 3, 32, 32 }, result.Images.shape);
        // Steps scaled to the masked share: ceil(8 * 12/64) = 2.
        Assert.Equal([new GenerationProgress(1, 2, 1, 1), new GenerationProgress(2, 2, 1, 1)], steps);
        Assert.True(pipeline.Detokenize(result.Tokens).allclose(result.Images, atol: 1e-5));
    }

    [Fact]
    public void ASeedMakesInpaintingEditingAndOutpaintingReproducible()
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var x = Image(4);
        var mask = Box(0, 0, 4, 4);
        using var a = pipeline.Inpaint(x, mask, 1, Fast, seed: 7);
        using var b = pipeline.Inpaint(x, mask, 1, Fast, seed: 7);
        using var c = pipeline.Inpaint(x, mask, 1, Fast, seed: 8);
        Assert.True(a.Images.equal(b.Images).all().item<bool>());
        Assert.False(a.Tokens.equal(c.Tokens).all().item<bool>());
        using var e1 = pipeline.Edit(x, 5, fraction: 0.25, options: Fast, seed: 2);
        using var e2 = pipeline.Edit(x, 5, fraction: 0.25, options: Fast, seed: 2);
        Assert.True(e1.Tokens.equal(e2.Tokens).all().item<bool>());
        Assert.Equal(16, e1.Mask.Count);
        using var o1 = pipeline.Outpaint(x, new Extension(8, 0, 0, 8), 3, Fast, seed: 2);
        using var o2 = pipeline.Outpaint(x, new Extension(8, 0, 0, 8), 3, Fast, seed: 2);
        Assert.True(o1.Images.equal(o2.Images).all().item<bool>());
    }

    [Fact]
    public void BlendingPutsTheInputPixelsBackOutsideTheMask()
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var x = Image(5);
        var mask = Box(4, 4, 8, 8);
        using var r = pipeline.Inpaint(x, mask, 1, Fast, blend: true);
        var outside = mask.ToImage(4).lt(0.5).unsqueeze(0).expand_as(x);
        Assert.True(r.Images.masked_select(outside).equal(x.masked_select(outside)).all().item<bool>());
        Assert.False(r.Images.masked_select(outside.logical_not()).equal(x.masked_select(outside.logical_not())).all().item<bool>());
    }

    [Fact]
    public void AClassEditOfARegionDrawsTheShareInsideIt()
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var x = Image(6);
        var region = Box(0, 0, 4, 8);                                                      // 32 tokens
        using var r = pipeline.Edit(x, 9, region, fraction: 0.5, options: Fast, seed: 1);
        Assert.Equal(16, r.Mask.Count);
        for (int y = 0; y < 8; y++)
        for (int c = 0; c < 8; c++)
            Assert.True(!r.Mask[y, c] || region[y, c]);
        var before = pipeline.Tokenize(x).view(1, 8, 8);
        Assert.False(r.Tokens.ne(before).logical_and(r.Mask.ToTensor().view(1, 8, 8).logical_not()).any().item<bool>());
    }

    [Fact]
    public void AnAllCoveringMaskRegeneratesEveryTokenAndAnEmptyOneIsAnError()
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var x = Image(7);
        using var all = pipeline.Inpaint(x, TokenMask.Full(8, 8), 1, Fast);
        Assert.True(all.Tokens.ne(pipeline.Tokenize(x).view(1, 8, 8)).sum().item<long>() > 50);
        var empty = new TokenMask(8, 8, new bool[64]);
        Assert.Contains("covers no token", Assert.Throws<ArgumentException>(() => pipeline.Inpaint(x, empty, 1, Fast)).Message);
        Assert.Contains("4x4 token grid does not fit the model's 8x8", Assert.Throws<ArgumentException>(() => pipeline.Inpaint(x, TokenMask.Full(4, 4), 1)).Message);
        Assert.Contains("[B, 3, 32, 32]", Assert.Throws<ArgumentException>(() => pipeline.Inpaint(zeros(1, 3, 64, 64), TokenMask.Full(8, 8), 1)).Message);
        Assert.Contains("out of range", Assert.Throws<ArgumentException>(() => pipeline.Inpaint(x, TokenMask.Full(8, 8), 1000)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Edit(x, 1, fraction: 0));
    }

    [Theory]
    [InlineData(8, 8, 0, 0, 32, 48)]     // left/right: one window each side
    [InlineData(0, 0, 6, 0, 40, 32)]     // 6 px rounds to 2 tokens (halves up)
    [InlineData(40, 0, 20, 0, 52, 72)]   // 40 px = 10 tokens: wider than the generator's 8x8 window
    public void AnOutpaintedImageHasTheRequestedSizeAndKeepsTheOriginalTokens(int left, int right, int top, int bottom, int height, int width)
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var x = Image(8);
        using var r = pipeline.Outpaint(x, new Extension(left, right, top, bottom), 2, Fast with { NumSteps = 4 });
        Assert.Equal(new long[] { 1, 3, height, width }, r.Images.shape);
        var e = new Extension(left, right, top, bottom).ToTokens(4);
        var original = r.Tokens[.., TensorIndex.Slice(e.Top, e.Top + 8), TensorIndex.Slice(e.Left, e.Left + 8)];
        Assert.True(original.equal(pipeline.Tokenize(x).view(1, 8, 8)).all().item<bool>());
        Assert.Equal(height / 4 * (width / 4) - 64, r.Mask.Count);
        Assert.True(r.Tokens.lt(1024).all().item<bool>() && r.Tokens.ge(0).all().item<bool>());
        Assert.Contains("adds no whole 4-pixel token", Assert.Throws<ArgumentException>(() => pipeline.Outpaint(x, new Extension(1, 0, 0, 1), 2)).Message);
    }

    [Fact]
    public void FlippingTheSameBitsTwiceRestoresTheTokensAndOnlyTheRegionChanges()
    {
        using var scope = NewDisposeScope();
        var tokens = randint(0, 1024, new long[] { 2, 8, 8 }, generator: new Generator(3));
        var region = Box(1, 1, 3, 5);
        var once = BitFlips.Flip(tokens, [0, 3, 9], 10, region);
        Assert.True(BitFlips.Flip(once, [0, 3, 9], 10, region).equal(tokens).all().item<bool>());
        var inside = region.ToTensor().view(1, 8, 8);
        Assert.True(once.bitwise_xor(tokens).eq(1 + 8 + 512).eq(inside).all().item<bool>());
        Assert.Contains("bit 10 is beyond the 10-bit tokens (bits 0..9)", Assert.Throws<ArgumentException>(() => BitFlips.Flip(tokens, [10], 10)).Message);
        Assert.Contains("listed twice", Assert.Throws<ArgumentException>(() => BitFlips.Flip(tokens, [2, 2], 10)).Message);
    }

    [Fact]
    public void TheBitSweepFlipsEachBitInTurn()
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var x = Image(9);
        var tokens = pipeline.Tokenize(x).view(1, 8, 8);
        using var sweep = pipeline.BitSweep(x);
        Assert.Equal(new long[] { 10, 3, 32, 32 }, sweep.Images.shape);
        for (int c = 0; c < 10; c++) Assert.True(sweep.Tokens[c].bitwise_xor(tokens[0]).eq(1L << c).all().item<bool>());
        using var flip = pipeline.FlipBits(x, [4]);
        Assert.True(flip.Images.allclose(sweep.Images[4].unsqueeze(0), atol: 1e-5));       // batched decoding: float rounding only
        Assert.True(flip.Tokens.equal(sweep.Tokens[4].unsqueeze(0)).all().item<bool>());
    }

    [Fact]
    public void TheHammingPathFlipsTheDifferingBitsOneWayFromEndToEnd()
    {
        using var scope = NewDisposeScope();
        var a = randint(0, 1024, new long[] { 64 }, generator: new Generator(1));
        var b = randint(0, 1024, new long[] { 64 }, generator: new Generator(2));
        var path = TokenInterpolation.HammingPath(a, b, 10, 5, seed: 4);
        Assert.True(path[0].equal(a).all().item<bool>() && path[4].equal(b).all().item<bool>());
        long Distance(Tensor u, Tensor v) => u.bitwise_xor(v).data<long>().Sum(d => (long)System.Numerics.BitOperations.PopCount((ulong)d));
        long total = Distance(a, b);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal((long)Math.Round(i * total / 4.0, MidpointRounding.AwayFromZero), Distance(a, path[i]));
            Assert.Equal(total, Distance(a, path[i]) + Distance(path[i], b));               // on a shortest path
        }
        Assert.True(path.equal(TokenInterpolation.HammingPath(a, b, 10, 5, seed: 4)).all().item<bool>());
        Assert.False(path.equal(TokenInterpolation.HammingPath(a, b, 10, 5, seed: 5)).all().item<bool>());
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenInterpolation.HammingPath(a, b, 10, 1, 0));
    }

    [Fact]
    public void TokenMasksComeFromPixelsBoxesAndDilation()
    {
        using var pipeline = Load();
        using var scope = NewDisposeScope();
        var pixels = zeros(32, 32);
        pixels[5, 9] = tensor(1f);                                                          // one pixel: token (1, 2)
        var m = TokenMask.FromPixels(pixels, 4);
        Assert.Equal(1, m.Count);
        Assert.True(m[1, 2]);
        Assert.Equal(9, m.Dilate(1).Count);
        Assert.True(m.Dilate(1)[0, 1] && m.Dilate(1)[2, 3] && !m.Dilate(1)[3, 2]);
        Assert.Equal(9, m.Dilate(1).Dilate(0).Count);
        // A box in the file's pixels of a 64x48 image: resized to 42x32, centre crop x 5..37; box x 20..40 -> crop x ~ 8..21.
        var box = pipeline.MaskFromBox(new PixelBox(20, 0, 40, 12), 64, 48);
        Assert.Equal(Enumerable.Range(0, 8).Select(c => c >= 2 && c <= 5), Enumerable.Range(0, 8).Select(c => box[0, c]));
        Assert.Contains("box 0,0,70,10 is not inside the 64x48 image", Assert.Throws<ArgumentException>(() => pipeline.MaskFromBox(new PixelBox(0, 0, 70, 10), 64, 48)).Message);
        Assert.Contains("the mask is 10x10, the image is 64x48", Assert.Throws<ArgumentException>(() =>
            pipeline.MaskFromImage(new MaskBit.Imaging.RgbImage(10, 10, new byte[300]), 64, 48, "m.png")).Message);
        Assert.Contains("covers no pixel", Assert.Throws<ArgumentException>(() =>
            pipeline.MaskFromImage(new MaskBit.Imaging.RgbImage(64, 48, new byte[64 * 48 * 3]), 64, 48, "m.png")).Message);
        Assert.Contains("not a whole number", Assert.Throws<ArgumentException>(() => TokenMask.FromPixels(zeros(30, 32), 4)).Message);
    }
}
