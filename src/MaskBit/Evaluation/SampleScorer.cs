using System.Text.RegularExpressions;
using MaskBit.Data;
using MaskBit.Generation;
using MaskBit.Imaging;

namespace MaskBit.Evaluation;

/// <summary>Image files with the class each was generated for, as a data set (so the loader decodes them in parallel).</summary>
public sealed class LabelledFiles(IReadOnlyList<(string Path, int Label)> files, ClassNames classNames, string source) : IImageDataset
{
    public IReadOnlyList<(string Path, int Label)> Files => files;
    public string Source => source;
    public int Count => files.Count;
    public ClassNames ClassNames => classNames;
    public Example Get(int index) => new(Images.Read(files[index].Path), files[index].Label, files[index].Path);
    public int LabelOf(int index) => files[index].Label;
}

/// <summary>A fixed subset of a data set, in the given order.</summary>
public sealed class DatasetSubset(IImageDataset data, IReadOnlyList<int> indices) : IImageDataset
{
    public string Source => $"{data.Source} ({indices.Count} of {data.Count})";
    public int Count => indices.Count;
    public ClassNames ClassNames => data.ClassNames;
    public Example Get(int index) => data.Get(indices[index]);
    public int LabelOf(int index) => data.LabelOf(indices[index]);
}

/// <summary>
/// One class's share of a score: samples requested for it, how many the classifier put in it, and the Fréchet distance
/// of their features to the reference images of that class next to the same distance for as many real images of it
/// (with ~100 samples a class's distance is dominated by its small-sample bias: compare it with its floor, not with the
/// overall distance).
/// </summary>
public sealed record ClassScore(int Label, string Name, int Count, int Correct, double FrechetDistance, double Floor)
{
    public double Accuracy => Count == 0 ? double.NaN : (double)Correct / Count;
}

/// <summary>
/// What <see cref="SampleScorer.Score"/> measured: the share of samples classified as the class they were requested
/// for, and the Fréchet distance of their classifier features to the reference set next to the floor: the same
/// distance for as many real images of each class from another split, which is what a perfect generator would get at
/// this count and class mix (a Fréchet distance on few samples is biased upwards).
/// </summary>
public sealed record ScoreReport(int Count, double Accuracy, IReadOnlyList<ClassScore> PerClass,
    double FrechetDistance, double Floor, int ReferenceCount, string Reference, string FloorSource)
{
    public double FloorRatio => FrechetDistance / Floor;
}

/// <summary>
/// <c>maskbit score</c>: judges class-conditional samples with a <see cref="SampleClassifier"/> trained on the real
/// data. Samples are <c>&lt;n&gt;_&lt;class index&gt;_&lt;name&gt;.png</c> files as <c>generate --save-individual</c> writes
/// them, or image files in one sub-folder per class (named by class index or name).
/// </summary>
public static partial class SampleScorer
{
    [GeneratedRegex(@"^\d+_(\d+)(_.*)?$")]
    private static partial Regex SampleName();

    /// <summary>The sample files of <paramref name="folder"/> and their requested classes; a file or folder whose class
    /// cannot be told, or an empty folder, is an error naming it.</summary>
    public static LabelledFiles ListSamples(string folder, ClassNames classes)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"sample folder {folder} not found");
        static bool IsImage(string f) => ImageFolderDataset.Extensions.Contains(Path.GetExtension(f)) && !Path.GetFileName(f).StartsWith('.');
        var files = new List<(string, int)>();
        foreach (var f in Directory.EnumerateFiles(folder).Where(IsImage).Order(StringComparer.Ordinal))
        {
            var m = SampleName().Match(Path.GetFileNameWithoutExtension(f));
            if (!m.Success)
                throw new InvalidDataException($"{f}: cannot tell the requested class (expected <n>_<class index>_<name>.png, as generate --save-individual writes, or one sub-folder per class)");
            files.Add((f, Label(m.Groups[1].Value, classes, f)));
        }
        foreach (var dir in Directory.EnumerateDirectories(folder).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal))
        {
            int label = Label(Path.GetFileName(dir), classes, dir);
            files.AddRange(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(IsImage).Order(StringComparer.Ordinal).Select(f => (f, label)));
        }
        if (files.Count == 0) throw new InvalidDataException($"sample folder {folder} holds no images");
        return new LabelledFiles(files, classes, folder);
    }

    static int Label(string classOrIndex, ClassNames classes, string where)
    {
        try { return classes.Resolve(classOrIndex); }
        catch (ArgumentException e) { throw new InvalidDataException($"{where}: {e.Message}"); }
    }

    /// <summary>
    /// Scores <paramref name="samples"/>: accuracy against the requested classes, and the Fréchet distance of the
    /// classifier's features to <paramref name="reference"/> (e.g. the test split), next to the floor: the distance
    /// of as many images of each class as the samples have, drawn (seeded) from <paramref name="floorData"/> (e.g. the
    /// training split).
    /// </summary>
    public static ScoreReport Score(SampleClassifier model, IImageDataset samples, IImageDataset reference, IImageDataset floorData,
        ulong seed = 0, int batchSize = 256, Action<double>? onProgress = null)
    {
        if (samples.Count < 2) throw new ArgumentException($"{samples.Source}: a Fréchet distance needs at least 2 samples, got {samples.Count}");
        var floorSet = new DatasetSubset(floorData, FloorIndices(samples, floorData, seed));

        // Decoding is the slow part: progress counts images decoded.
        double total = samples.Count + reference.Count + floorSet.Count, done = 0;
        void Advance(int n) => onProgress?.Invoke((done += n) / total);
        var correct = new int[model.NumClasses];
        using var sampleMoments = Moments(model, samples, batchSize, Advance, (predicted, labels) =>
        {
            for (int i = 0; i < labels.Length; i++)
                if (predicted[i] == labels[i]) correct[labels[i]]++;
        });
        using var referenceMoments = Moments(model, reference, batchSize, Advance);
        using var floorMoments = Moments(model, floorSet, batchSize, Advance);
        // A class with a single sample (or a single reference image) has no covariance: its distance is NaN.
        double ClassDistance(ClassMoments a, int c) =>
            a.PerClass[c].Count < 2 || referenceMoments.PerClass[c].Count < 2 ? double.NaN : Fid.Distance(a.PerClass[c], referenceMoments.PerClass[c]);
        var perClass = Enumerable.Range(0, model.NumClasses).Where(c => sampleMoments.PerClass[c].Count > 0)
            .Select(c => new ClassScore(c, samples.ClassNames.ShortName(c), (int)sampleMoments.PerClass[c].Count, correct[c],
                ClassDistance(sampleMoments, c), ClassDistance(floorMoments, c))).ToList();
        return new ScoreReport(samples.Count, (double)correct.Sum() / samples.Count, perClass,
            Fid.Distance(sampleMoments.All, referenceMoments.All), Fid.Distance(floorMoments.All, referenceMoments.All),
            reference.Count, reference.Source, floorSet.Source);
    }

    // For each class, as many examples of floorData as the samples have, drawn without replacement in a seeded order.
    static int[] FloorIndices(IImageDataset samples, IImageDataset floorData, ulong seed)
    {
        var wanted = Enumerable.Range(0, samples.Count).GroupBy(samples.LabelOf).ToDictionary(g => g.Key, g => g.Count());
        var order = Enumerable.Range(0, floorData.Count).ToArray();
        new Random(Seeds.ForRandom(seed)).Shuffle(order);
        var picked = new List<int>(samples.Count);
        var taken = new Dictionary<int, int>();
        foreach (var i in order)
        {
            int label = floorData.LabelOf(i);
            if (wanted.GetValueOrDefault(label) > taken.GetValueOrDefault(label))
            {
                taken[label] = taken.GetValueOrDefault(label) + 1;
                picked.Add(i);
            }
        }
        if (picked.Count < samples.Count)
        {
            var (label, n) = wanted.First(kv => taken.GetValueOrDefault(kv.Key) < kv.Value);
            throw new ArgumentException($"{floorData.Source} has {taken.GetValueOrDefault(label)} images of class {label}, fewer than the {n} samples of it (the floor needs as many)");
        }
        return [.. picked];
    }

    // Feature sums over a whole data set and over each class of it. The whole set's are summed in data order, not merged
    // from the classes: a merge would sum in label order, and the overall distance would then change (in its 7th digit)
    // with the requested classes of the same images.
    sealed class ClassMoments(long dim, int numClasses) : IDisposable
    {
        public FeatureMoments All { get; } = new(dim);
        public FeatureMoments[] PerClass { get; } = [.. Enumerable.Range(0, numClasses).Select(_ => new FeatureMoments(dim))];

        // features: [B, D], labels: [B]
        public void Add(Tensor features, Tensor labels)
        {
            All.Add(features);
            foreach (long c in labels.data<long>().ToArray().Distinct())
            {
                using var label = c.ToScalar();
                using var rows = nonzero(labels.eq(label)).flatten();
                using var classFeatures = features.index_select(0, rows);
                PerClass[c].Add(classFeatures);
            }
        }

        public void Dispose()
        {
            All.Dispose();
            foreach (var m in PerClass) m.Dispose();
        }
    }

    // The features' sums over a data set (resized to the classifier's resolution), and optionally the predictions.
    static ClassMoments Moments(SampleClassifier model, IImageDataset data, int batchSize, Action<int> advance, Action<long[], long[]>? predictions = null)
    {
        using var set = ImageTensors.Load(data, model.Resolution, advance);
        if (set.Labels.max().item<long>() >= model.NumClasses)
            throw new ArgumentException($"{data.Source}: a label is not below the classifier's {model.NumClasses} classes");
        var moments = new ClassMoments(model.FeatureDim, model.NumClasses);
        using var _ = no_grad();
        for (long s = 0; s < set.Count; s += batchSize)
        {
            using var scope = NewDisposeScope();
            using var start = s.ToScalar();
            using var stop = Math.Min(s + batchSize, set.Count).ToScalar();
            var (images, labels) = set.Batch(arange(start, stop, One, dtype: int64));
            var features = model.Features(images); // [B, F]
            moments.Add(features, labels);
            predictions?.Invoke(model.Logits(features).argmax(1).data<long>().ToArray(), labels.data<long>().ToArray());
        }
        return moments;
    }
}
