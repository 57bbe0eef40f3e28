namespace MaskBit.Imaging;

/// <summary>
/// An 8-bit RGB picture as PIL's <c>convert('RGB')</c> holds it: rows top to bottom, pixels interleaved R, G, B
/// (<see cref="Pixels"/> is [H, W, 3]). Transforms run on this form, as the original's run on PIL images.
/// </summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[] pixels)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"image size must be positive, got {width}x{height}");
        if (pixels.Length != width * height * 3)
            throw new ArgumentException($"RGB pixel buffer of a {width}x{height} image must hold {width * height * 3} bytes, got {pixels.Length}");
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>torchvision's <c>ToTensor</c>: [3, H, W] float32, value k/255.</summary>
    public Tensor ToTensor()
    {
        using var bytes = torch.tensor(Pixels, new long[] { Height, Width, 3 });
        return bytes.permute(2, 0, 1).to(float32).div_(Const(255));
    }

    /// <summary>The pixel values as uint8 [3, H, W] (what the FID Inception takes).</summary>
    public Tensor ToBytes()
    {
        using var bytes = torch.tensor(Pixels, new long[] { Height, Width, 3 });
        return bytes.permute(2, 0, 1).contiguous();
    }

    /// <summary>
    /// A [3, H, W] image tensor in [0, 1] (any float dtype/device) to 8 bits as the original does:
    /// clamp, <c>(x * 255).to(uint8)</c> (truncation, not rounding).
    /// </summary>
    public static RgbImage FromTensor(Tensor image)
    {
        if (image.ndim != 3 || image.shape[0] != 3)
            throw new ArgumentException($"expected an image tensor [3, H, W], got [{string.Join(", ", image.shape)}]");
        using var scope = torch.NewDisposeScope();
        var hwc = image.detach().cpu().clamp(Const(0), Const(1)).mul(Const(255)).to(uint8).permute(1, 2, 0).contiguous();
        return new RgbImage((int)image.shape[2], (int)image.shape[1], hwc.data<byte>().ToArray());
    }

    /// <summary>PIL's <c>Image.resize((width, height), interpolation)</c>.</summary>
    public RgbImage Resize(int width, int height, Interpolation interpolation) => PilResample.Resize(this, width, height, interpolation);

    /// <summary>The mirror image (PIL's <c>transpose(FLIP_LEFT_RIGHT)</c>, torchvision's <c>hflip</c>).</summary>
    public RgbImage FlipHorizontal()
    {
        var dst = new byte[Pixels.Length];
        for (int y = 0; y < Height; y++)
        for (int x = 0; x < Width; x++)
            Array.Copy(Pixels, (y * Width + x) * 3, dst, (y * Width + Width - 1 - x) * 3, 3);
        return new RgbImage(Width, Height, dst);
    }

    /// <summary>PIL's <c>crop((left, top, left + width, top + height))</c>; the box must lie inside the image.</summary>
    public RgbImage Crop(int left, int top, int width, int height)
    {
        if (left < 0 || top < 0 || width <= 0 || height <= 0 || left + width > Width || top + height > Height)
            throw new ArgumentException($"crop box {width}x{height} at ({left}, {top}) is not inside the {Width}x{Height} image");
        var dst = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            Array.Copy(Pixels, ((top + y) * Width + left) * 3, dst, y * width * 3, width * 3);
        return new RgbImage(width, height, dst);
    }
}
