using MaskBit.Imaging;
using MaskBit.Pipeline;

namespace MaskBit.Editing;

/// <summary>A pixel rectangle [X0, X1) x [Y0, Y1) of an image file (X1, Y1 exclusive).</summary>
public readonly record struct PixelBox(int X0, int Y0, int X1, int Y1)
{
    /// <summary>Parses <c>x0,y0,x1,y1</c>.</summary>
    public static PixelBox Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 4 || !parts.All(p => int.TryParse(p, out _)))
            throw new ArgumentException($"box '{text}': expected four integers x0,y0,x1,y1");
        var v = parts.Select(int.Parse).ToArray();
        return new PixelBox(v[0], v[1], v[2], v[3]);
    }

    public override string ToString() => $"{X0},{Y0},{X1},{Y1}";
}

/// <summary>
/// Token masks from regions of an image file: a mask picture or a box in the file's own pixels goes through the same
/// resize and centre crop as the image (<see cref="MaskBitPipeline.ReadImages(IEnumerable{string})"/>, nearest-neighbour), then each token
/// whose f x f patch holds a set pixel (channel mean &gt;= 0.5) is covered.
/// </summary>
public static class ImageRegions
{
    /// <summary>A mask picture (white = edit) of the image's size -> its token coverage; an empty result is an error.</summary>
    public static TokenMask MaskFromImage(this MaskBitPipeline pipeline, RgbImage mask, int imageWidth, int imageHeight, string source = "mask")
    {
        if (mask.Width != imageWidth || mask.Height != imageHeight)
            throw new ArgumentException($"{source}: the mask is {mask.Width}x{mask.Height}, the image is {imageWidth}x{imageHeight}: expected the same size");
        using var scope = NewDisposeScope();
        var pixels = Images.EvalTransform(mask, pipeline.ImageSize, Interpolation.Nearest);        // [3, S, S]
        var tokens = TokenMask.FromPixels(pixels, pipeline.Tokenizer.DownsamplingFactor, source);
        if (tokens.IsEmpty) throw new ArgumentException($"{source}: the mask covers no pixel of the {pipeline.ImageSize}x{pipeline.ImageSize} centre crop the model sees (nothing to edit)");
        return tokens;
    }

    /// <summary>A box in the image file's pixels -> its token coverage; a box not inside the image is an error.</summary>
    public static TokenMask MaskFromBox(this MaskBitPipeline pipeline, PixelBox box, int imageWidth, int imageHeight)
    {
        if (box.X0 < 0 || box.Y0 < 0 || box.X0 >= box.X1 || box.Y0 >= box.Y1 || box.X1 > imageWidth || box.Y1 > imageHeight)
            throw new ArgumentException($"box {box} is not inside the {imageWidth}x{imageHeight} image: expected 0 <= x0 < x1 <= {imageWidth} and 0 <= y0 < y1 <= {imageHeight}");
        var pixels = new byte[imageWidth * imageHeight * 3];
        for (int y = box.Y0; y < box.Y1; y++)
            Array.Fill(pixels, (byte)255, (y * imageWidth + box.X0) * 3, (box.X1 - box.X0) * 3);
        return pipeline.MaskFromImage(new RgbImage(imageWidth, imageHeight, pixels), imageWidth, imageHeight, $"box {box}");
    }
}
