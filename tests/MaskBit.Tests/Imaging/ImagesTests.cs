using MaskBit.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Imaging;

public sealed class ImagesTests : IDisposable
{
    // Written by tests/fixtures/images/make_fixtures.py with Pillow 9.4 (see its docstring).
    static readonly string Fixtures = Path.Combine(Golden.RepoRoot, "tests", "fixtures", "images");
    readonly string _tmp = Path.Combine(Path.GetTempPath(), "maskbit-images-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_tmp)) Directory.Delete(_tmp, recursive: true);
    }

    static RgbImage Fixture(string name) => Images.Read(Path.Combine(Fixtures, name));

    static RgbImage RandomImage(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    [Fact]
    public void PngRoundTripIsExact()
    {
        var image = RandomImage(13, 7, 1);
        var path = Path.Combine(_tmp, "nested", "a.png");
        Images.Save(path, image);
        var back = Images.Read(path);
        Assert.Equal((13, 7), (back.Width, back.Height));
        Assert.Equal(image.Pixels, back.Pixels);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left
    }

    [Fact]
    public void LoadGivesChannelsFirstOver255()
    {
        var image = RandomImage(5, 3, 2);
        var path = Path.Combine(_tmp, "b.png");
        Images.Save(path, image);
        using var t = Images.Load(path);
        Assert.Equal(new long[] { 3, 3, 5 }, t.shape);
        Assert.Equal(ScalarType.Float32, t.dtype);
        // pixel (y=2, x=4), channel G
        Assert.Equal(image.Pixels[(2 * 5 + 4) * 3 + 1] / 255f, t[1, 2, 4].item<float>());
    }

    [Fact]
    public void FromTensorClampsAndTruncates()
    {
        using var t = torch.tensor(new float[] { -0.2f, 0.999f, 1.5f, 100.9f / 255, 0.5f, 0f }, new long[] { 3, 1, 2 });
        // [3, 1, 2] -> pixels (R, G, B): (-0.2, 1.5, 0.5), (0.999, 100.9/255, 0)
        Assert.Equal(new byte[] { 0, 255, 127, 254, 100, 0 }, RgbImage.FromTensor(t).Pixels);
    }

    [Theory]
    [InlineData("nearest"), InlineData("bilinear"), InlineData("bicubic")]
    public void ResizeMatchesPillow(string filter)
    {
        var input = Fixture("input.png");
        var interpolation = Enum.Parse<Interpolation>(filter, ignoreCase: true);
        foreach (var (w, h) in new[] { (16, 10), (50, 31), (20, 40), (37, 11), (9, 23) })
            Assert.True(Fixture($"{filter}_{w}x{h}.png").Pixels.SequenceEqual(input.Resize(w, h, interpolation).Pixels),
                $"{filter} {w}x{h} differs from Pillow");
    }

    [Theory]
    [InlineData("nearest"), InlineData("bilinear"), InlineData("bicubic")]
    public void EvalTransformMatchesTorchvision(string filter)
    {
        // 37x23 -> Resize(16) = 25x16 -> CenterCrop(16) at left round(4.5) = 4 (half to even)
        using var actual = Images.EvalTransform(Fixture("input.png"), 16, Enum.Parse<Interpolation>(filter, ignoreCase: true));
        using var expected = Fixture($"eval_{filter}_16.png").ToTensor();
        Assert.Equal(new long[] { 3, 16, 16 }, actual.shape);
        Assert.True(actual.equal(expected).all().item<bool>());
    }

    [Fact]
    public void JpegDecodesLikePillow() =>
        Assert.Equal(Fixture("input_jpg_decoded.png").Pixels, Fixture("input.jpg").Pixels);

    [Theory]
    [InlineData("input.bmp", "input.png"), InlineData("input_lossless.webp", "input.png"), InlineData("anim.gif", "anim_frame0.png")]
    public void OtherFormatsDecodeLikePillow(string file, string expected) =>
        Assert.Equal(Fixture(expected).Pixels, Fixture(file).Pixels);

    [Fact]
    public void AlphaIsDroppedAndGrayIsRepeated()
    {
        Assert.Equal(Fixture("input.png").Pixels, Fixture("input_rgba.png").Pixels);
        var gray = Fixture("input_gray.png");
        Assert.Equal((37, 23), (gray.Width, gray.Height));
        Assert.All(gray.Pixels.Chunk(3), p => Assert.True(p[0] == p[1] && p[1] == p[2]));
        Assert.True(gray.Pixels.Distinct().Count() > 10);
    }

    [Fact]
    public void BadFilesFailNamingTheFile()
    {
        var missing = Path.Combine(_tmp, "missing.png");
        var e1 = Assert.Throws<IOException>(() => Images.Load(missing));
        Assert.Contains(missing, e1.Message);
        Directory.CreateDirectory(_tmp);
        var junk = Path.Combine(_tmp, "junk.png");
        File.WriteAllText(junk, "not an image");
        var e2 = Assert.Throws<InvalidDataException>(() => Images.Load(junk));
        Assert.Contains(junk, e2.Message);
        Assert.DoesNotContain('\n', e1.Message + e2.Message);
    }

    [Fact]
    public void GridPlacesCellsEdgeToEdgeLikeTheOriginalsStrips()
    {
        // rows of 3 and 2 cells, 4x5 (HxW), no padding (the original concatenates) -> (3 * 5) x (2 * 4)
        Tensor Cell(float v) => torch.full(3, 4, 5, v);
        var path = Path.Combine(_tmp, "grid", "g.png");
        Images.SaveGrid(path, [[Cell(0.2f), Cell(0.4f), Cell(0.6f)], [Cell(0.8f), Cell(1f)]]);
        var grid = Images.Read(path);
        Assert.Equal((15, 8), (grid.Width, grid.Height));
        byte At(int x, int y) => grid.Pixels[(y * grid.Width + x) * 3];
        Assert.Equal(51, At(0, 0));                  // row 0, col 0: (0.2 * 255) truncated, from the corner
        Assert.Equal(51, At(4, 3));                  // its bottom-right pixel
        Assert.Equal(102, At(5, 0));                 // col 1 starts right after it
        Assert.Equal(153, At(14, 3));                // row 0, col 2 bottom-right pixel, the image's right edge
        Assert.Equal(204, At(0, 4));                 // row 1 starts right below row 0
        Assert.Equal(255, At(9, 7));                 // row 1, col 1 bottom-right pixel
        Assert.Equal(0, At(10, 4));                  // row 1 has no third cell: black
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void BatchSavesAsOneRow()
    {
        var path = Path.Combine(_tmp, "batch.png");
        var batch = torch.rand(3, 3, 4, 6);
        Images.Save(path, batch);
        var row = Images.Read(path);
        Assert.Equal((3 * 6, 4), (row.Width, row.Height));
        // the images side by side, as the original's torch.cat along the width
        Assert.Equal(RgbImage.FromTensor(torch.cat(batch.unbind(0), 2)).Pixels, row.Pixels);
    }

    [Fact]
    public void LabelledGridPutsEachRowsNameInAMarginOnTheLeft()
    {
        Tensor Cell(float v) => torch.full(3, 32, 32, v);
        var path = Path.Combine(_tmp, "labelled.png");
        Images.SaveGrid(path, [[Cell(0.5f), Cell(0.5f)], [Cell(0.5f), Cell(0.5f)]], ["sneaker", "T-shirt/top"]);
        var grid = Images.Read(path);
        int margin = BitmapFont.Measure("T-shirt/top", 1) + 4; // the longest label, 2 pixels each side at scale 1
        Assert.Equal((margin + 64, 64), (grid.Width, grid.Height));
        bool Lit(int x0, int x1, int y0, int y1) =>
            Enumerable.Range(y0, y1 - y0).Any(y => Enumerable.Range(x0, x1 - x0).Any(x => grid.Pixels[(y * grid.Width + x) * 3] == 255));
        Assert.True(Lit(0, margin, 12, 20));   // row 0's label, vertically centred
        Assert.False(Lit(0, margin, 0, 12));   // nothing above it
        Assert.True(Lit(0, margin, 44, 52));   // row 1's label
        Assert.Equal(127, grid.Pixels[(5 * grid.Width + margin) * 3]); // the cells start right after the margin
        Assert.True(BitmapFont.Measure("SNEAKER", 1) < BitmapFont.Measure("T-SHIRT/TOP", 1));

        // Lower case draws as upper case; an unknown character as '?'.
        var a = new byte[40 * 9 * 3];
        var b = new byte[40 * 9 * 3];
        BitmapFont.Draw(a, 40, 1, 1, "boot~", 1, (255, 255, 255));
        BitmapFont.Draw(b, 40, 1, 1, "BOOT?", 1, (255, 255, 255));
        Assert.Equal(b, a);
        Assert.Contains("3 labels for the 2 rows", Assert.Throws<ArgumentException>(() => Images.SaveGrid(path, [[Cell(0f)], [Cell(0f)]], ["a", "b", "c"])).Message);
    }
}
