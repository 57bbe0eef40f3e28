using MaskBit.Imaging;
namespace MaskBit.Data;

/// <summary>
/// A whole small data set decoded and resized once into one uint8 tensor, for the classifier's training and scoring:
/// batches are then tensor slices, with no per-image work or managed allocation per step.
/// </summary>
public sealed class ImageTensors : IDisposable
{
    /// <summary>[N, 3, S, S] uint8.</summary>
    public Tensor Images { get; }
    /// <summary>[N] int64.</summary>
    public Tensor Labels { get; }
    public int Count => (int)Labels.shape[0];

    ImageTensors(Tensor images, Tensor labels) => (Images, Labels) = (images, labels);

    /// <summary>Decodes every example of <paramref name="data"/> (in parallel), resizes the shorter side to
    /// <paramref name="resolution"/> and centre-crops (bilinear, <see cref="Imaging.Images.EvalCrop"/>).</summary>
    public static ImageTensors Load(IImageDataset data, int resolution, Action<int>? onProgress = null)
    {
        int n = data.Count, size = 3 * resolution * resolution;
        var pixels = new byte[(long)n * size];
        var labels = new long[n];
        int done = 0;
        Parallel.For(0, n, i =>
        {
            var ex = data.Get(i);
            var image = Imaging.Images.EvalCrop(ex.Image, resolution, Interpolation.Bilinear);
            // RgbImage is [S, S, 3]: store channels first.
            for (int p = 0; p < resolution * resolution; p++)
                for (int c = 0; c < 3; c++)
                    pixels[(long)i * size + c * resolution * resolution + p] = image.Pixels[3 * p + c];
            labels[i] = ex.Label;
            if (onProgress is not null && Interlocked.Increment(ref done) % 1000 == 0)
                lock (pixels) onProgress(1000); // one report at a time: callers keep plain running totals
        });
        onProgress?.Invoke(done % 1000);
        return new ImageTensors(tensor(pixels, [n, 3, resolution, resolution]), tensor(labels));
    }

    /// <summary>Examples <paramref name="indices"/> as float images in [0, 1] [B, 3, S, S] and labels [B].</summary>
    public (Tensor images, Tensor labels) Batch(Tensor indices) =>
        (Images.index_select(0, indices).to(float32).div_(Const(255)), Labels.index_select(0, indices));

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
