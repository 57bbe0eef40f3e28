using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Interop;

namespace MaskBit.Benchmarks;

/// <summary>
/// What reading a full-size checkpoint costs, integrity checks included. The random-init generator is written to a
/// temporary <c>.bin</c> (zip: every entry read is checked against its CRC-32) and <c>.safetensors</c> (header checked,
/// no checksum), and each is read back with <see cref="Checkpoint.ReadStateDict"/>. Then the .bin's bytes are read with
/// plain file reads, timing the reads and the CRC-32 over the same chunks apart: the raw I/O and the checksum's share
/// of the checked read. Every time is the best of three, files from the page cache (just written). The last row,
/// filling tensors of the state dict's sizes without any file, shows what the fresh memory alone costs (first touches
/// of pages are slow on a VM, and vary with the allocator's state). The temporary files are deleted.
/// </summary>
public static class CheckpointIoBenchmark
{
    public static BenchmarkReport Run(ExperimentConfig cfg)
    {
        var vq = cfg.Model?.VqModel ?? throw new ArgumentException("config has no model.vq_model");
        var mlm = cfg.Model.MlmModel ?? throw new ArgumentException("config has no model.mlm_model");
        manual_seed(0);
        using var model = GeneratorFactory.Create(mlm, vq, cfg.Resolution);
        var dir = Directory.CreateTempSubdirectory("maskbit-bench-io-").FullName;
        try
        {
            var rows = new List<string[]>();
            void Row(string what, long bytes, double seconds) => rows.Add([what, $"{seconds:F2}", $"{bytes / seconds / 1e9:F2}"]);
            static double BestOfThree(Func<double> seconds) => Enumerable.Range(0, 3).Min(_ => seconds());
            static void Read(string path)
            {
                foreach (var t in Checkpoint.ReadStateDict(path).Values) t.Dispose();
            }

            var bin = Path.Combine(dir, "generator.bin");
            var safetensors = Path.Combine(dir, "generator.safetensors");
            foreach (var path in new[] { bin, safetensors })
            {
                double seconds = Measure.Seconds(() => Checkpoint.Save(model, path));
                Row($"write {Path.GetFileName(path)} ({new FileInfo(path).Length / 1e9:F2} GB)", new FileInfo(path).Length, seconds);
            }
            // alternated, so that both formats meet the allocator in the same state
            double binSeconds = double.MaxValue, safetensorsSeconds = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                binSeconds = Math.Min(binSeconds, Measure.Seconds(() => Read(bin)));
                safetensorsSeconds = Math.Min(safetensorsSeconds, Measure.Seconds(() => Read(safetensors)));
            }
            Row("read generator.bin (CRC-32 checked)", new FileInfo(bin).Length, binSeconds);
            Row("read generator.safetensors (header checked)", new FileInfo(safetensors).Length, safetensorsSeconds);

            var chunk = new byte[1 << 24];
            double readSeconds = double.MaxValue, crcSeconds = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                var crc = new System.IO.Hashing.Crc32();
                double reading = 0, hashing = 0;
                using var file = new FileStream(bin, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
                for (int n = 1; n > 0;)
                {
                    reading += Measure.Seconds(() => n = file.Read(chunk));
                    hashing += Measure.Seconds(() => crc.Append(chunk.AsSpan(0, n)));
                }
                (readSeconds, crcSeconds) = (Math.Min(readSeconds, reading), Math.Min(crcSeconds, hashing));
            }
            Row("plain read of the .bin's bytes (no parsing, no check)", new FileInfo(bin).Length, readSeconds);
            Row("CRC-32 of the same bytes (in memory)", new FileInfo(bin).Length, crcSeconds);
            var shapes = model.state_dict().Values.Select(t => t.shape).ToList();
            Row("allocate and zero the state dict's tensors (no file)", new FileInfo(safetensors).Length, BestOfThree(() => Measure.Seconds(() =>
            {
                using var scope = NewDisposeScope();
                foreach (var shape in shapes) zeros(shape);
            })));
            return new BenchmarkReport(["measure", "seconds", "GB/s"], rows);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
