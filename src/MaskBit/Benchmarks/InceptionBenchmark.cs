using MaskBit.Networks;

namespace MaskBit.Benchmarks;

/// <summary>FID Inception throughput: 2048-d features + logits (float64, as the evaluators run it) of random uint8
/// 256x256 images, random weights.</summary>
public static class InceptionBenchmark
{
    public static BenchmarkReport Run(Device dev, int batch, int repeats)
    {
        using var net = new InceptionV3();
        net.to(dev);
        using var _ = no_grad();
        using var images = randint(0, 256, [batch, 3, 256, 256], dtype: uint8, device: dev);
        using (net.call(images)) { } // warm-up
        double seconds = Measure.Seconds(() =>
        {
            for (int i = 0; i < repeats; i++)
                using (var f = net.call(images)) f.F2048.cpu().Dispose();
        });
        return BenchmarkReport.Of("value",
        [
            ("device / threads", $"{dev} / {get_num_threads()}"),
            ("batch x repeats", $"{batch} x {repeats} (256x256 -> 299x299, float64)"),
            ("Inception features", $"{batch * repeats / seconds:F2} images/s"),
        ]);
    }
}
