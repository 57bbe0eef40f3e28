using MaskBit.Imaging;
namespace MaskBit.Editing;

/// <summary>
/// What an editing operation returns: the result images [B, 3, H, W] float32 in [0, 1] and their token grids
/// [B, h, w] int64 (both on the CPU), and the tokens it changed or generated (over the result's grid).
/// </summary>
public sealed class EditResult(Tensor images, Tensor tokens, TokenMask mask) : IDisposable
{
    public Tensor Images { get; } = images;
    public Tensor Tokens { get; } = tokens;
    public TokenMask Mask { get; } = mask;

    public void Dispose()
    {
        Images.Dispose();
        Tokens.Dispose();
    }
}
