using SkiaSharp;

namespace MaskBit.Imaging;

/// <summary>
/// Image files in and out, and the original's evaluation transform
/// (<c>Resize(size, interpolation)</c> + <c>CenterCrop(size)</c> + <c>ToTensor</c>, fidelity 8.2).
/// </summary>
public static class Images
{
    /// <summary>The config's <c>dataset.preprocessing.interpolation</c> name (torchvision/PIL modes) as a resampling filter.</summary>
    public static Interpolation ParseInterpolation(string name) => name.ToLowerInvariant() switch
    {
        "nearest" => Interpolation.Nearest,
        "bilinear" => Interpolation.Bilinear,
        "bicubic" => Interpolation.Bicubic,
        _ => throw new ArgumentException($"interpolation must be nearest, bilinear or bicubic, got '{name}'"),
    };

    /// <summary>Decodes any format SkiaSharp reads (PNG, JPEG, WebP, BMP, GIF first frame, ...) to RGB;
    /// alpha is dropped, not composited, as PIL's <c>convert('RGB')</c> does. <paramref name="source"/> names the data in errors.</summary>
    /// <param name="maxPixels">Larger images are refused from their header, before any pixel is decoded (a small file
    /// can claim a huge canvas).</param>
    public static RgbImage Decode(byte[] data, string source, long maxPixels = long.MaxValue)
    {
        using var skData = SKData.CreateCopy(data);
        using var codec = SKCodec.Create(skData)
            ?? throw new InvalidDataException($"cannot decode image {source}: not an image format SkiaSharp reads");
        if ((long)codec.Info.Width * codec.Info.Height > maxPixels)
            throw new InvalidDataException($"image {source} is {codec.Info.Width}x{codec.Info.Height}: more than the {maxPixels:N0} pixels accepted");
        // Unpremultiplied RGBA so colour values stay those of the file whatever the alpha; no colour-space
        // conversion (PIL ignores embedded profiles too).
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var result = codec.GetPixels(info, out byte[] rgba);
        if (result != SKCodecResult.Success) throw new InvalidDataException($"cannot decode image {source}: {result}");
        var rgb = new byte[info.Width * info.Height * 3];
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
        return new RgbImage(info.Width, info.Height, rgb);
    }

    /// <summary>Reads and decodes an image file (see <see cref="Decode"/>).</summary>
    public static RgbImage Read(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot read image {path}: {e.Message}", e);
        }
        return Decode(data, path);
    }

    /// <summary>An image file as torchvision's <c>ToTensor</c> gives it: [3, H, W] float32, values k/255.</summary>
    public static Tensor Load(string path) => Read(path).ToTensor();

    /// <summary>torchvision <c>Resize(size)</c> with an int size: the shorter side becomes <paramref name="size"/>,
    /// the longer <c>int(size * long / short)</c>; resampled like PIL.</summary>
    public static RgbImage ResizeShorterSide(RgbImage image, int size, Interpolation interpolation)
    {
        int shortSide = Math.Min(image.Width, image.Height), longSide = Math.Max(image.Width, image.Height);
        int newLong = (int)((double)((long)size * longSide) / shortSide);
        return image.Width <= image.Height
            ? image.Resize(size, newLong, interpolation)
            : image.Resize(newLong, size, interpolation);
    }

    /// <summary>torchvision <c>CenterCrop(size)</c>: offsets <c>int(round((side - size) / 2))</c>, rounding half to even
    /// like Python. The image must be at least <paramref name="size"/> on both sides.</summary>
    public static RgbImage CenterCrop(RgbImage image, int size) =>
        image.Crop((int)Math.Round((image.Width - size) / 2.0, MidpointRounding.ToEven),
                   (int)Math.Round((image.Height - size) / 2.0, MidpointRounding.ToEven), size, size);

    /// <summary>The original's evaluation crop: Resize(size) + CenterCrop(size) -> a size x size image.</summary>
    public static RgbImage EvalCrop(RgbImage image, int size, Interpolation interpolation) =>
        CenterCrop(ResizeShorterSide(image, size, interpolation), size);

    /// <summary>The original's evaluation transform: <see cref="EvalCrop"/> + ToTensor -> [3, size, size] float32.</summary>
    public static Tensor EvalTransform(RgbImage image, int size, Interpolation interpolation) =>
        EvalCrop(image, size, interpolation).ToTensor();

    /// <summary>Writes a [3, H, W] image, or a [B, 3, H, W] batch as one row (see <c>SaveGrid</c>), as PNG
    /// (see <see cref="RgbImage.FromTensor"/>).</summary>
    public static void Save(string path, Tensor images)
    {
        if (images.ndim == 3) { Save(path, RgbImage.FromTensor(images)); return; }
        if (images.ndim != 4) throw new ArgumentException($"expected [3, H, W] or [B, 3, H, W] to save to {path}, got [{string.Join(", ", images.shape)}]");
        using var scope = TorchSharp.torch.NewDisposeScope();
        SaveGrid(path, [images.unbind(0)]);
    }

    /// <summary>
    /// Writes one PNG grid, a row per list (e.g. original | reconstruction | |difference|), cells [3, H, W] of one size
    /// placed edge to edge as the original's image strips (<c>rearrange(..., "c (l1 h) (l2 w)")</c> or <c>torch.cat</c>
    /// along the width, no padding). A row shorter than the longest is filled out with black.
    /// </summary>
    public static void SaveGrid(string path, IReadOnlyList<IReadOnlyList<Tensor>> rows) => Save(path, Grid(rows, path));

    /// <summary>The same grid from 8-bit images.</summary>
    public static void SaveGrid(string path, IReadOnlyList<IReadOnlyList<RgbImage>> cells) => Save(path, Grid(cells, path));

    /// <summary>
    /// A grid with a label left of each row (white <see cref="BitmapFont"/> text on black, at least 7 pixels high and
    /// growing with the cell size; labels longer than <see cref="MaxLabelLength"/> characters are cut).
    /// </summary>
    public static void SaveGrid(string path, IReadOnlyList<IReadOnlyList<Tensor>> rows, IReadOnlyList<string> labels) =>
        Save(path, Grid(rows, labels, path));

    /// <summary>The grid of <see cref="SaveGrid(string, IReadOnlyList{IReadOnlyList{Tensor}})"/> in memory;
    /// <paramref name="what"/> names it in errors.</summary>
    public static RgbImage Grid(IReadOnlyList<IReadOnlyList<Tensor>> rows, string what = "the grid") => Grid(ToBytes(rows), what);

    /// <summary>The labelled grid of <see cref="SaveGrid(string, IReadOnlyList{IReadOnlyList{Tensor}}, IReadOnlyList{string})"/> in memory.</summary>
    public static RgbImage Grid(IReadOnlyList<IReadOnlyList<Tensor>> rows, IReadOnlyList<string> labels, string what = "the grid") =>
        Grid(ToBytes(rows), labels, what);

    static List<IReadOnlyList<RgbImage>> ToBytes(IReadOnlyList<IReadOnlyList<Tensor>> rows) =>
        rows.Select(r => (IReadOnlyList<RgbImage>)r.Select(RgbImage.FromTensor).ToList()).ToList();

    /// <summary>The same labelled grid from 8-bit images.</summary>
    public static RgbImage Grid(IReadOnlyList<IReadOnlyList<RgbImage>> rows, IReadOnlyList<string> labels, string what = "the grid")
    {
        if (labels.Count != rows.Count) throw new ArgumentException($"{labels.Count} labels for the {rows.Count} rows of {what}");
        var grid = Grid(rows, what);
        int rowHeight = grid.Height / rows.Count, scale = Math.Max(1, rowHeight / 32), pad = 2 * scale;
        var texts = labels.Select(l => l.Length > MaxLabelLength ? l[..MaxLabelLength] : l).ToList();
        int margin = texts.Max(t => BitmapFont.Measure(t, scale)) + 2 * pad, width = margin + grid.Width;
        var pixels = new byte[width * grid.Height * 3];
        for (int y = 0; y < grid.Height; y++)
            Array.Copy(grid.Pixels, y * grid.Width * 3, pixels, (y * width + margin) * 3, grid.Width * 3);
        for (int r = 0; r < texts.Count; r++)
            BitmapFont.Draw(pixels, width, pad, r * rowHeight + (rowHeight - BitmapFont.GlyphHeight * scale) / 2, texts[r], scale, (255, 255, 255));
        return new RgbImage(width, grid.Height, pixels);
    }

    /// <summary>Row labels are cut to this many characters.</summary>
    public const int MaxLabelLength = 20;

    /// <summary>The cells edge to edge (see <see cref="SaveGrid(string, IReadOnlyList{IReadOnlyList{Tensor}})"/>); <paramref name="what"/> names it in errors.</summary>
    public static RgbImage Grid(IReadOnlyList<IReadOnlyList<RgbImage>> cells, string what = "the grid")
    {
        if (cells.Count == 0 || cells.All(r => r.Count == 0)) throw new ArgumentException($"no images for {what}");
        var first = cells.First(r => r.Count > 0)[0];
        int w = first.Width, h = first.Height, cols = cells.Max(r => r.Count);
        int gridW = cols * w, gridH = cells.Count * h;
        var grid = new byte[gridW * gridH * 3];
        for (int r = 0; r < cells.Count; r++)
        for (int c = 0; c < cells[r].Count; c++)
        {
            var cell = cells[r][c];
            if (cell.Width != w || cell.Height != h)
                throw new ArgumentException($"grid cells must all be {w}x{h}, row {r} column {c} is {cell.Width}x{cell.Height}");
            int x0 = c * w, y0 = r * h;
            for (int y = 0; y < h; y++)
                Array.Copy(cell.Pixels, y * w * 3, grid, ((y0 + y) * gridW + x0) * 3, w * 3);
        }
        return new RgbImage(gridW, gridH, grid);
    }

    /// <summary>
    /// The original's difference panel (demo_utils <c>visualize_reconstruction</c>): |255a - 255b| truncated to 8 bits,
    /// of a real and a reconstructed [3, H, W] image in [0, 1] (the reconstruction clamped first).
    /// </summary>
    public static RgbImage Difference(Tensor real, Tensor fake)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var d = (real.detach().cpu().clamp(Const(0), Const(1)).mul(Const(255)) - fake.detach().cpu().clamp(Const(0), Const(1)).mul(Const(255))).abs().to(uint8);
        return new RgbImage((int)real.shape[2], (int)real.shape[1], d.permute(1, 2, 0).contiguous().data<byte>().ToArray());
    }

    /// <summary>Writes <paramref name="image"/> as PNG atomically (temporary file + rename); creates the folder.</summary>
    public static void Save(string path, RgbImage image)
    {
        var png = EncodePng(image);
        MaskBit.Interop.AtomicFile.Write(path, s => s.Write(png));
    }

    /// <summary><paramref name="image"/> as the bytes of a PNG file (lossless, opaque RGB).</summary>
    public static byte[] EncodePng(RgbImage image)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; j < image.Pixels.Length; i += 4, j += 3)
        {
            rgba[i] = image.Pixels[j];
            rgba[i + 1] = image.Pixels[j + 1];
            rgba[i + 2] = image.Pixels[j + 2];
            rgba[i + 3] = 255;
        }
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var skImage = SKImage.FromPixelCopy(info, rgba);
        using var png = skImage.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
