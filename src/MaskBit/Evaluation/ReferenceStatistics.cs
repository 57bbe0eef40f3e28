using MaskBit.Distributed;
using MaskBit.Imaging;
using MaskBit.Networks;

namespace MaskBit.Evaluation;

/// <summary>
/// FID reference statistics (mu, sigma) of a set of image files, in the pytorch-fid / ADM layout that
/// <c>eval-generator --ref-stats</c> reads: the Inception's 2048-d pool features, or with a <see cref="ResNet18Cntk"/>
/// its 512-d pooled features (FD_ResNet18). The files' exact pixel values are used, as reference batches hold them
/// (the tokenizer evaluator's float -> uint8 truncation is a quirk of comparing reconstructions, fidelity Q9, and not
/// applied to a data set).
/// </summary>
public static class ReferenceStatistics
{
    /// <param name="network">The Inception network or the ResNet-18 (exactly one).</param>
    /// <param name="size">Resize the shorter side (bilinear) and centre crop to this size first; null: the images as they are.</param>
    /// <param name="onImages">After each batch, with its size.</param>
    /// <param name="group">N processes: each embeds its part of the files, and every one returns the statistics of all.</param>
    public static FidStatistics Compute(IReadOnlyList<string> files, nn.Module network, int? size, int batchSize, Device device,
        Action<int>? onImages = null, ProcessGroup? group = null)
    {
        group ??= ProcessGroup.Single;
        if (network is not (InceptionV3 or ResNet18Cntk)) throw new ArgumentException($"reference statistics need the Inception or the ResNet-18, got {network.GetType().Name}");
        using var moments = new FeatureMoments(network is ResNet18Cntk ? ResNet18Cntk.FeatureDim : 2048);
        foreach (var chunk in Shard.Of(group).Of(files).Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            var images = chunk.Select(Images.Read).Select(im => (size is int s
                ? Images.CenterCrop(Images.ResizeShorterSide(im, s, Interpolation.Bilinear), s) : im).ToBytes()).ToList();
            if (images.Any(t => !t.shape.SequenceEqual(images[0].shape)))
                throw new ArgumentException($"images of different sizes in one batch ({string.Join(", ", chunk.Take(3))}...): pass --resolution to crop them to one size");
            using var _ = no_grad();
            var batch = stack(images).to(device); // uint8 [B, 3, H, W]
            if (network is ResNet18Cntk resnet18) moments.Add(resnet18.Embed(batch.to(float32).div(Const(255))));
            else
            {
                using var f = ((InceptionV3)network).call(batch);
                moments.Add(f.F2048);
            }
            onImages?.Invoke(chunk.Length);
        }
        moments.AllReduce(group);
        return moments.Statistics();
    }
}
