using System.CommandLine;
using System.Globalization;
using MaskBit.Data;
using MaskBit.Evaluation;
using MaskBit.Interop;
using MaskBit.Networks;
using MaskBit.Training.Losses;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit eval-generator</c>: the original's <c>scripts/eval_maskbit.py</c> protocol. Labels are a permutation of
/// the classes repeated <c>--per-class</c> times (every block of C consecutive samples holds each class once; the
/// original's permutation is unseeded, ours comes from <c>--seed</c>); every sample j is drawn alone with its own seed
/// (seed + j), so it does not depend on how the work is split into shards or resumed. Samples are clamped and truncated
/// to uint8 as the original does and written as PNG (lossless: JPEG would change the FID); at the end the ADM suite's
/// sample batch (<c>samples.npz</c>, <c>arr_0</c> uint8 [N, H, W, 3]) is written and, with the Inception weights, gFID
/// (against <c>--ref-stats</c>) and IS are printed, and FD_ResNet18 (the Fréchet distance on CNTK ResNet-18 features of
/// the PNGs, against <c>--ref-stats-resnet18</c>) when that network is in the NuGet cache. A killed run continues from its state file; shards
/// (<c>--shard i/n</c>) are combined by <c>maskbit eval-merge</c>.
/// </summary>
public static class EvalGeneratorCommand
{
    public static Command Create()
    {
        var model = new ModelOptions(withGenerator: true);
        var weights = new EvalWeightOptions(withLpips: false);
        var perClass = new Option<int>("--per-class", "-n") { Description = "Samples per class (the official protocol: 50, i.e. 50,000 for ImageNet)", DefaultValueFactory = _ => 50 };
        var classes = new Option<string[]>("--classes") { Description = "Evaluate only these classes (index or name; default: every class)", AllowMultipleArgumentsPerToken = true };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Output folder: samples/*.png, state files, samples.npz", Required = true };
        var refStats = new Option<FileInfo?>("--ref-stats") { Description = "Reference statistics (.npz with mu, sigma; the original: train_imagenet256_stats.npz / ADM's VIRTUAL_imagenet256_labeled.npz)" };
        var refStats18 = new Option<FileInfo?>("--ref-stats-resnet18") { Description = "Reference statistics of CNTK ResNet-18 features (.npz with mu [512], sigma [512, 512]; maskbit fid-stats --network resnet18) for FD_ResNet18" };
        var shard = new Option<string>("--shard") { Description = "Do part i of n (0-based, e.g. 2/8) of the samples; combine with eval-merge", DefaultValueFactory = _ => "0/1" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the label permutation; sample j uses seed + j", DefaultValueFactory = _ => 0UL };
        var batchSize = new Option<int>("--batch-size") { Description = "Samples between two state saves (and per Inception pass)", DefaultValueFactory = _ => 16 };

        var cmd = new Command("eval-generator", "Sample the official evaluation set (PNG + ADM .npz batch) and compute gFID / IS.");
        model.AddTo(cmd);
        foreach (var o in new Option[] { perClass, classes, output, refStats, refStats18, shard, seed, batchSize }) cmd.Options.Add(o);
        weights.AddTo(cmd);
        cmd.SetAction(r =>
        {
            int n = CliChecks.Positive(r.GetValue(perClass), "--per-class");
            int bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            var (shardIndex, shardCount) = ParseShard(r.GetValue(shard)!);
            var outDir = r.GetValue(output)!.FullName;
            using var reference = r.GetValue(refStats) is { } rs ? FidStatistics.Load(rs.FullName) : null;
            using var reference18 = r.GetValue(refStats18) is { } rs18 ? LoadResNet18Reference(rs18.FullName) : null;
            using var pipeline = model.Load(r);
            using var inception = weights.LoadInception(r, pipeline.Device);
            if (inception is null) Console.Error.WriteLine($"maskbit: note: gFID and IS skipped: {EvalWeightOptions.InceptionMissing}");
            using var resnet18 = shardCount == 1 && reference18 is not null ? weights.LoadResNet18(r, pipeline.Device) : null;
            if (reference18 is not null && resnet18 is null && shardCount == 1) Console.Error.WriteLine($"maskbit: note: FD_ResNet18 skipped: {EvalWeightOptions.ResNet18Missing}");

            var classList = r.GetValue(classes) is { Length: > 0 } given
                ? given.Select(pipeline.Classes.Resolve).ToList()
                : Enumerable.Range(0, pipeline.Generator!.NClass).ToList();
            ulong seedValue = r.GetValue(seed);
            var labels = Labels(classList, n, seedValue);
            long total = labels.Count, start = total * shardIndex / shardCount, end = total * (shardIndex + 1) / shardCount;

            var run = new ShardRun(outDir, shardIndex, shardCount, start, end, total, seedValue, inception is not null);
            using var evaluator = run.Resume(out long next);
            if (next > start) Console.WriteLine($"resuming shard {shardIndex}/{shardCount} at sample {next} ({next - start} of {end - start} done)");
            Progress.Run($"sampling {end - next} image(s) of shard {shardIndex}/{shardCount}", end - next, advance =>
            {
                var batch = new List<Tensor>();
                for (long j = next; j < end; j++)
                {
                    using (var result = pipeline.Generate([labels[(int)j]], 1, seed: seedValue + (ulong)j, batchSize: 1))
                    {
                        var image = RgbImage.FromTensor(result.Images[0]); // clamp, (x * 255) -> uint8 by truncation
                        Images.Save(SamplePath(outDir, j, labels[(int)j]), image);
                        if (inception is not null) batch.Add(image.ToBytes());
                    }
                    advance(1);
                    if ((j + 1 - start) % bs != 0 && j + 1 != end) continue;
                    if (inception is not null && batch.Count > 0)
                    {
                        using var scope = NewDisposeScope();
                        evaluator!.Update(inception, stack(batch).to(pipeline.Device));
                        foreach (var t in batch) t.Dispose();
                        batch.Clear();
                    }
                    run.Save(j + 1, evaluator);
                }
            });
            if (shardCount == 1) Finish(outDir, total, reference, pipeline.ImageSize, resnet18, reference18);
            else Console.WriteLine($"shard {shardIndex}/{shardCount} complete ({end - start} samples); run `maskbit eval-merge {outDir}` once every shard is done");
            return 0;
        });
        return cmd;
    }

    /// <summary>The original's <c>randperm(C).repeat(per_class)</c>, with a seeded permutation.</summary>
    internal static List<int> Labels(IReadOnlyList<int> classes, int perClass, ulong seed)
    {
        using var g = new Generator(seed);
        using var perm = randperm(classes.Count, generator: g);
        var order = perm.data<long>().Select(i => classes[(int)i]).ToList();
        return Enumerable.Range(0, perClass).SelectMany(_ => order).ToList();
    }

    static (int index, int count) ParseShard(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], out int i) && int.TryParse(parts[1], out int n) && n >= 1 && i >= 0 && i < n) return (i, n);
        throw new ArgumentException($"--shard must be i/n with 0 <= i < n, got '{text}'");
    }

    internal static string SamplesDir(string outDir) => Path.Combine(outDir, "samples");
    static string SamplePath(string outDir, long j, int label) => Path.Combine(SamplesDir(outDir), $"{j:D6}_{label:D4}.png");

    /// <summary>Statistics for FD_ResNet18, which must be 512-d (one-line error naming the file otherwise).</summary>
    internal static FidStatistics LoadResNet18Reference(string path)
    {
        var stats = FidStatistics.Load(path);
        if (stats.Dim == ResNet18Cntk.FeatureDim) return stats;
        stats.Dispose();
        throw new InvalidDataException($"--ref-stats-resnet18: {path} holds {stats.Dim}-d statistics, expected {ResNet18Cntk.FeatureDim}-d (write them with maskbit fid-stats --network resnet18)");
    }

    /// <summary>
    /// Combines the finished shards' state files: the exact sum of their Inception sums (when they carry them), the
    /// ADM batch <c>samples.npz</c> streamed from the PNGs in sample order, and the metrics as one JSON line. With
    /// <paramref name="resnet18"/> and <paramref name="reference18"/>, the PNGs also go through the CNTK ResNet-18 on the
    /// way (16 at a time) for FD_ResNet18.
    /// </summary>
    internal static void Finish(string outDir, long? expectedTotal, FidStatistics? reference, int? imageSize,
        ResNet18Cntk? resnet18 = null, FidStatistics? reference18 = null)
    {
        var states = ShardRun.Completed(outDir);
        long total = states[0].Total;
        if (expectedTotal is long t && t != total) throw new InvalidDataException($"{outDir}: state files are for {total} samples, this run for {t}");
        var files = Directory.GetFiles(SamplesDir(outDir), "*.png").Order(StringComparer.Ordinal).ToList();
        if (files.Count != total) throw new InvalidDataException($"{SamplesDir(outDir)}: {files.Count} PNG files, the state files say {total} samples");
        var first = Images.Read(files[0]);
        if (imageSize is int s && (first.Width != s || first.Height != s)) throw new InvalidDataException($"{files[0]}: {first.Width}x{first.Height}, expected {s}x{s}");
        var batchPath = Path.Combine(outDir, "samples.npz");
        using var moments18 = resnet18 is not null && reference18 is not null ? new FeatureMoments(ResNet18Cntk.FeatureDim) : null;
        var pending = new List<Tensor>(); // uint8 [3, H, W] images waiting for the ResNet-18
        void Embed()
        {
            if (moments18 is null || pending.Count == 0) return;
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            moments18.Add(resnet18!.Embed(stack(pending).to(resnet18.Device).to(float32) / 255));
            foreach (var t in pending) t.Dispose();
            pending.Clear();
        }
        Progress.Run($"writing the ADM sample batch ({total} images)", total, advance =>
            Npz.WriteStreamed(batchPath, "arr_0", ScalarType.Byte, [total, first.Height, first.Width, 3], stream =>
            {
                foreach (var f in files)
                {
                    var image = Images.Read(f);
                    if (image.Width != first.Width || image.Height != first.Height) throw new InvalidDataException($"{f}: {image.Width}x{image.Height}, the others are {first.Width}x{first.Height}");
                    stream.Write(image.Pixels); // HWC uint8, the ADM layout
                    if (moments18 is not null) pending.Add(image.ToBytes());
                    if (pending.Count == 16) Embed();
                    advance(1);
                }
                Embed();
            }));
        using var stats18 = moments18?.Statistics();
        double? fd18 = stats18 is null ? null : Fid.Distance(reference18!, stats18);
        string fd18Json = fd18 is double f ? $", \"{TokenizerEvaluation.FdResNet18Key}\": {f.ToString("R", CultureInfo.InvariantCulture)}" : "";
        Console.WriteLine($"wrote {total} samples to {batchPath} (arr_0 uint8 [{total}, {first.Height}, {first.Width}, 3])");
        if (states.Any(st => st.Evaluator is null))
        {
            Console.Error.WriteLine("maskbit: note: gFID and IS need every shard run with the Inception weights (--inception)");
            foreach (var st in states) st.Evaluator?.Dispose();
            if (fd18 is not null) Console.WriteLine($"{{\"num_samples\": {total}{fd18Json}}}");
            return;
        }
        using var merged = new GeneratorEvaluator();
        foreach (var st in states) { merged.Add(st.Evaluator!); st.Evaluator!.Dispose(); }
        var result = merged.Result(reference);
        var fid = result.Fid is double d ? $"\"FID\": {d.ToString("R", CultureInfo.InvariantCulture)}, " : "";
        if (reference is null) Console.Error.WriteLine("maskbit: note: no --ref-stats: FID not computed");
        Console.WriteLine($"{{{fid}\"InceptionScore\": {result.InceptionScore.ToString("R", CultureInfo.InvariantCulture)}, \"num_samples\": {result.Count}{fd18Json}}}");
    }

    /// <summary>
    /// One shard's state file (<c>state-&lt;i&gt;of&lt;n&gt;.npz</c>): its range, how far it got, and the Inception sums of
    /// the samples before that point. Written atomically after every batch of samples.
    /// </summary>
    sealed class ShardRun(string outDir, int index, int count, long start, long end, long total, ulong seed, bool withInception)
    {
        string Path => StatePath(outDir, index, count);
        static string StatePath(string outDir, int i, int n) => System.IO.Path.Combine(outDir, $"state-{i}of{n}.npz");

        public GeneratorEvaluator? Resume(out long next)
        {
            next = start;
            if (!File.Exists(Path)) return withInception ? new GeneratorEvaluator() : null;
            var a = Npz.Read(Path);
            long[] header = a["run"].data<long>().ToArray(); // start, end, total, seed, with inception
            if (header[0] != start || header[1] != end || header[2] != total || (ulong)header[3] != seed || (header[4] == 1) != withInception)
                throw new InvalidDataException($"{Path}: written by a run with other settings (samples {header[0]}..{header[1]} of {header[2]}, seed {(ulong)header[3]}, inception {header[4] == 1}); use another --output or delete it");
            next = a["next"].item<long>();
            return withInception ? GeneratorEvaluator.FromState(a, Path) : null;
        }

        public void Save(long next, GeneratorEvaluator? evaluator)
        {
            using var scope = NewDisposeScope();
            var arrays = new List<KeyValuePair<string, Tensor>>
            {
                new("run", tensor(new[] { start, end, total, (long)seed, withInception ? 1L : 0L })),
                new("shard", tensor(new long[] { index, count })),
                new("next", tensor(next)),
            };
            if (evaluator is not null) arrays.AddRange(evaluator.State());
            Npz.Write(Path, arrays);
        }

        public sealed record Finished(long Total, GeneratorEvaluator? Evaluator);

        /// <summary>Every shard's state, all finished (else a one-line error naming what is missing).</summary>
        public static List<Finished> Completed(string outDir)
        {
            var found = Directory.Exists(outDir) ? Directory.GetFiles(outDir, "state-*of*.npz") : [];
            if (found.Length == 0) throw new FileNotFoundException($"{outDir}: no state-<i>of<n>.npz files (run eval-generator with -o {outDir} first)");
            int n = int.Parse(System.IO.Path.GetFileNameWithoutExtension(found[0]).Split("of")[1], CultureInfo.InvariantCulture);
            var result = new List<Finished>();
            for (int i = 0; i < n; i++)
            {
                var p = StatePath(outDir, i, n);
                if (!File.Exists(p)) throw new FileNotFoundException($"{p}: shard {i}/{n} has not run");
                var a = Npz.Read(p);
                long[] run = a["run"].data<long>().ToArray();
                long next = a["next"].item<long>();
                if (next != run[1]) throw new InvalidDataException($"{p}: shard {i}/{n} stopped at sample {next} of {run[0]}..{run[1] - 1}; run it again to finish");
                result.Add(new Finished(run[2], run[4] == 1 ? GeneratorEvaluator.FromState(a, p) : null));
            }
            return result;
        }
    }
}
