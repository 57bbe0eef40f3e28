using System.Globalization;
using MaskBit.Distributed;
using MaskBit.Imaging;
using MaskBit.Networks;
using MaskBit.Pipeline;

namespace MaskBit.Evaluation;

/// <summary>
/// The original's <c>scripts/eval_maskbit.py</c> protocol (fidelity 7.6), resumable and split into shards. Labels are a
/// permutation of the classes repeated <c>perClass</c> times (every block of C consecutive samples holds each class
/// once; the original's permutation is unseeded, fidelity Q18: ours comes from the seed); every sample j is drawn alone
/// with its own seed (seed + j), so it does not depend on how the work is split into shards or resumed. Samples are
/// clamped and truncated to uint8 as the original does (fidelity Q9) and written as PNG (lossless: JPEG would change
/// the FID). Each shard keeps a state file (<c>state-&lt;i&gt;of&lt;n&gt;.npz</c>: its range, how far it got, the Inception
/// sums of the samples before that point), written atomically after every batch; <see cref="Merge"/> combines the
/// finished shards exactly.
/// </summary>
public sealed class GeneratorEvaluationRun
{
    readonly string _dir;
    readonly IReadOnlyList<int> _labels;
    readonly ulong _seed;
    readonly bool _withInception;

    public Shard Shard { get; }
    /// <summary>This shard's samples [Start, End) of <see cref="Total"/>.</summary>
    public long Start { get; }
    public long End { get; }
    public long Total => _labels.Count;

    /// <param name="outDir">The output folder: <c>samples/*.png</c>, the state files, <c>samples.npz</c>.</param>
    /// <param name="labels">Every sample's class (<see cref="Labels"/>).</param>
    /// <param name="seed">The seed of sample 0; sample j uses seed + j.</param>
    /// <param name="withInception">Whether the shard accumulates the Inception sums (gFID / IS).</param>
    public GeneratorEvaluationRun(string outDir, IReadOnlyList<int> labels, ulong seed, Shard shard, bool withInception)
    {
        (_dir, _labels, _seed, _withInception, Shard) = (outDir, labels, seed, withInception, shard);
        (Start, End) = shard.Range(labels.Count);
    }

    /// <summary>The original's <c>randperm(C).repeat(per_class)</c>, with a seeded permutation.</summary>
    public static List<int> Labels(IReadOnlyList<int> classes, int perClass, ulong seed)
    {
        using var g = new Generator(seed);
        using var perm = randperm(classes.Count, generator: g);
        var order = perm.data<long>().Select(i => classes[(int)i]).ToList();
        return Enumerable.Range(0, perClass).SelectMany(_ => order).ToList();
    }

    public static string SamplesDir(string outDir) => Path.Combine(outDir, "samples");
    static string SamplePath(string outDir, long j, int label) => Path.Combine(SamplesDir(outDir), $"{j:D6}_{label:D4}.png");
    static string StatePath(string outDir, int i, int n) => Path.Combine(outDir, $"state-{i}of{n}.npz");
    string MyStatePath => StatePath(_dir, Shard.Index, Shard.Count);

    /// <summary>The first sample still to draw: <see cref="Start"/>, or where a killed run's state file stopped.</summary>
    public long Next()
    {
        if (!File.Exists(MyStatePath)) return Start;
        var a = Npz.Read(MyStatePath);
        CheckHeader(a);
        return a["next"].item<long>();
    }

    /// <summary>
    /// Draws the shard's remaining samples with <paramref name="pipeline"/> (its sampling settings), saving the state
    /// every <paramref name="saveEvery"/> samples; <paramref name="onSample"/> after each.
    /// </summary>
    public void Run(MaskBitPipeline pipeline, InceptionV3? inception, int saveEvery, Action? onSample = null)
    {
        if (inception is null == _withInception) throw new ArgumentException($"the run was set up {(_withInception ? "with" : "without")} the Inception network");
        long next = Next();
        using var evaluator = Resume();
        var batch = new List<Tensor>(); // uint8 [3, H, W] samples waiting for the Inception pass
        for (long j = next; j < End; j++)
        {
            int label = _labels[(int)j];
            using (var result = pipeline.Generate([label], 1, seed: _seed + (ulong)j, batchSize: 1))
            {
                var image = RgbImage.FromTensor(result.Images[0]); // clamp, (x * 255) -> uint8 by truncation
                Images.Save(SamplePath(_dir, j, label), image);
                if (inception is not null) batch.Add(image.ToBytes());
            }
            onSample?.Invoke();
            if ((j + 1 - Start) % saveEvery != 0 && j + 1 != End) continue;
            if (inception is not null && batch.Count > 0)
            {
                using var scope = NewDisposeScope();
                evaluator!.Update(inception, stack(batch).to(pipeline.Device));
                foreach (var t in batch) t.Dispose();
                batch.Clear();
            }
            Save(j + 1, evaluator);
        }
    }

    GeneratorEvaluator? Resume()
    {
        if (!File.Exists(MyStatePath)) return _withInception ? new GeneratorEvaluator() : null;
        var a = Npz.Read(MyStatePath);
        return _withInception ? GeneratorEvaluator.FromState(a, MyStatePath) : null;
    }

    void CheckHeader(IReadOnlyDictionary<string, Tensor> a)
    {
        long[] h = a["run"].data<long>().ToArray(); // start, end, total, seed, with inception
        if (h[0] != Start || h[1] != End || h[2] != Total || (ulong)h[3] != _seed || (h[4] == 1) != _withInception)
            throw new InvalidDataException($"{MyStatePath}: written by a run with other settings (samples {h[0]}..{h[1]} of {h[2]}, seed {(ulong)h[3]}, inception {h[4] == 1}); use another --output or delete it");
    }

    void Save(long next, GeneratorEvaluator? evaluator)
    {
        using var scope = NewDisposeScope();
        var arrays = new List<KeyValuePair<string, Tensor>>
        {
            new("run", tensor(new[] { Start, End, Total, (long)_seed, _withInception ? 1L : 0L })),
            new("shard", tensor(new long[] { Shard.Index, Shard.Count })),
            new("next", tensor(next)),
        };
        if (evaluator is not null) arrays.AddRange(evaluator.State());
        Npz.Write(MyStatePath, arrays);
    }

    /// <summary>Statistics for FD_ResNet18, which must be 512-d (one-line error naming the file otherwise).</summary>
    public static FidStatistics LoadResNet18Reference(string path)
    {
        var stats = FidStatistics.Load(path);
        if (stats.Dim == ResNet18Cntk.FeatureDim) return stats;
        stats.Dispose();
        throw new InvalidDataException($"--ref-stats-resnet18: {path} holds {stats.Dim}-d statistics, expected {ResNet18Cntk.FeatureDim}-d (write them with maskbit fid-stats --network resnet18)");
    }

    /// <summary>What <see cref="Merge"/> found: the ADM batch written, and the metrics the inputs allowed.</summary>
    public sealed record MergeResult(long Total, string BatchPath, int Height, int Width, double? Fid, double? InceptionScore,
        double? FdResNet18, bool MissingInception)
    {
        /// <summary>The metrics as the one JSON line the commands print (null when there is none to print).</summary>
        public string? Json()
        {
            static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
            string fd18 = FdResNet18 is double f ? $", \"{TokenizerEvaluation.FdResNet18Key}\": {R(f)}" : "";
            if (InceptionScore is double score)
                return $"{{{(Fid is double d ? $"\"FID\": {R(d)}, " : "")}\"InceptionScore\": {R(score)}, \"num_samples\": {Total}{fd18}}}";
            return FdResNet18 is null ? null : $"{{\"num_samples\": {Total}{fd18}}}";
        }
    }

    /// <summary>
    /// Combines the finished shards' state files in <paramref name="outDir"/>: the exact sum of their Inception sums
    /// (when they carry them), the ADM suite's sample batch <c>samples.npz</c> (<c>arr_0</c> uint8 [N, H, W, 3]) streamed
    /// from the PNGs in sample order, and gFID (against <paramref name="reference"/>) and IS; with
    /// <paramref name="resnet18"/> and <paramref name="reference18"/>, the PNGs also go through the CNTK ResNet-18 on the
    /// way (16 at a time) for FD_ResNet18. <paramref name="onImage"/>(done, total) after each PNG.
    /// </summary>
    public static MergeResult Merge(string outDir, FidStatistics? reference, ResNet18Cntk? resnet18 = null, FidStatistics? reference18 = null,
        long? expectedTotal = null, int? imageSize = null, Action<long, long>? onImage = null)
    {
        var states = Completed(outDir);
        try
        {
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
                moments18.Add(resnet18!.Embed(stack(pending).to(resnet18.Device).to(float32).div(Const(255))));
                foreach (var p in pending) p.Dispose();
                pending.Clear();
            }
            Npz.WriteStreamed(batchPath, "arr_0", ScalarType.Byte, [total, first.Height, first.Width, 3], stream =>
            {
                long done = 0;
                foreach (var f in files)
                {
                    var image = Images.Read(f);
                    if (image.Width != first.Width || image.Height != first.Height) throw new InvalidDataException($"{f}: {image.Width}x{image.Height}, the others are {first.Width}x{first.Height}");
                    stream.Write(image.Pixels); // HWC uint8, the ADM layout
                    if (moments18 is not null) pending.Add(image.ToBytes());
                    if (pending.Count == 16) Embed();
                    onImage?.Invoke(++done, total);
                }
                Embed();
            });
            using var stats18 = moments18?.Statistics();
            double? fd18 = stats18 is null ? null : Fid.Distance(reference18!, stats18);
            if (states.Any(st => st.Evaluator is null))
                return new MergeResult(total, batchPath, first.Height, first.Width, null, null, fd18, MissingInception: true);
            using var merged = new GeneratorEvaluator();
            foreach (var st in states) merged.Add(st.Evaluator!);
            var result = merged.Result(reference);
            return new MergeResult(result.Count, batchPath, first.Height, first.Width, result.Fid, result.InceptionScore, fd18, MissingInception: false);
        }
        finally
        {
            foreach (var st in states) st.Evaluator?.Dispose();
        }
    }

    sealed record Finished(long Total, GeneratorEvaluator? Evaluator);

    /// <summary>Every shard's state, all finished (else a one-line error naming what is missing).</summary>
    static List<Finished> Completed(string outDir)
    {
        var found = Directory.Exists(outDir) ? Directory.GetFiles(outDir, "state-*of*.npz") : [];
        if (found.Length == 0) throw new FileNotFoundException($"{outDir}: no state-<i>of<n>.npz files (run eval-generator with -o {outDir} first)");
        int n = int.Parse(Path.GetFileNameWithoutExtension(found[0]).Split("of")[1], CultureInfo.InvariantCulture);
        var result = new List<Finished>();
        try
        {
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
        catch
        {
            foreach (var st in result) st.Evaluator?.Dispose();
            throw;
        }
    }
}
