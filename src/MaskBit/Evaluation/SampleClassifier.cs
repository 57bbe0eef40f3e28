using System.Globalization;
using MaskBit.Generation;
using MaskBit.Interop;
using MaskBit.Pipeline;
using static TorchSharp.torch.nn;

namespace MaskBit.Evaluation;

/// <summary>
/// A small CNN that judges class-conditional samples of small grey data sets (Fashion-MNIST): is the image of the
/// class it was asked for, and how far are the features of many samples from those of real images (a Fréchet
/// distance, like FID with this network in place of Inception). Input images are RGB in [0, 1]; the channels are
/// averaged to grey, because the data is grey and a generator's faint colour casts must not change the verdict.
/// <code>
/// grey [B, 1, S, S] -> conv1 3x3 (W) -> bn1 -> ReLU -> conv2 3x3 (W) -> bn2 -> ReLU -> max pool 2
///                   -> conv3 3x3 (2W) -> bn3 -> ReLU -> conv4 3x3 (2W) -> bn4 -> ReLU -> max pool 2
///                   -> fc (2W * (S/4)^2 -> F) -> ReLU = features [B, F] -> dropout -> head (F -> classes)
/// </code>
/// The constructor is the config; the weight file's metadata records it (<see cref="Save"/>, <see cref="Load"/>).
/// </summary>
public sealed class SampleClassifier : Module<Tensor, Tensor>
{
    public const string FileName = "classifier.safetensors";
    public const string Kind = "classifier";
    const string ResolutionKey = "maskbit.classifier.resolution", WidthKey = "maskbit.classifier.width",
        FeaturesKey = "maskbit.classifier.feature_dim", ClassesKey = "maskbit.classifier.num_classes";

    readonly TrainableConv2d conv1, conv2, conv3, conv4;
    readonly BatchNorm2d bn1, bn2, bn3, bn4;
    readonly Linear fc, head;
    readonly Dropout dropout;

    public int NumClasses { get; }
    public int Resolution { get; }
    public int Width { get; }
    public int FeatureDim { get; }

    public SampleClassifier(int numClasses, int resolution = 32, int width = 16, int featureDim = 128, double dropout = 0.3)
        : base(nameof(SampleClassifier))
    {
        if (numClasses < 2) throw new ArgumentException($"a classifier needs at least 2 classes, got {numClasses}");
        if (resolution < 4 || resolution % 4 != 0) throw new ArgumentException($"classifier resolution must be a positive multiple of 4, got {resolution}");
        (NumClasses, Resolution, Width, FeatureDim) = (numClasses, resolution, width, featureDim);
        // No conv biases: each conv feeds a batch norm, whose shift takes their place.
        conv1 = new TrainableConv2d(1, width, 3, padding: 1, bias: false);
        conv2 = new TrainableConv2d(width, width, 3, padding: 1, bias: false);
        conv3 = new TrainableConv2d(width, 2 * width, 3, padding: 1, bias: false);
        conv4 = new TrainableConv2d(2 * width, 2 * width, 3, padding: 1, bias: false);
        (bn1, bn2, bn3, bn4) = (new BatchNorm2d(width), new BatchNorm2d(width), new BatchNorm2d(2 * width), new BatchNorm2d(2 * width));
        fc = Linear(2L * width * (resolution / 4) * (resolution / 4), featureDim);
        head = Linear(featureDim, numClasses);
        this.dropout = Dropout(dropout);
        RegisterComponents();
    }

    // images: [B, 3, S, S] in [0, 1] -> features [B, F]
    public Tensor Features(Tensor images)
    {
        if (images.dim() != 4 || images.shape[2] != Resolution || images.shape[3] != Resolution)
            throw new ArgumentException($"classifier input must be [B, C, {Resolution}, {Resolution}], got [{string.Join(", ", images.shape)}]");
        using var scope = NewDisposeScope();
        var x = images.mean([1], keepdim: true).sub(Const(0.5)).div(Const(0.5)); // grey, [-1, 1]
        x = F.relu(bn1.call(conv1.call(x)));
        x = F.max_pool2d(F.relu(bn2.call(conv2.call(x))), 2);
        x = F.relu(bn3.call(conv3.call(x)));
        x = F.max_pool2d(F.relu(bn4.call(conv4.call(x))), 2);
        return F.relu(fc.call(x.flatten(1))).MoveToOuterDisposeScope();
    }

    // images: [B, 3, S, S] in [0, 1] -> logits [B, classes]
    public override Tensor forward(Tensor images) => head.call(dropout.call(Features(images)));

    // features [B, F] from Features -> logits [B, classes], as forward gives them in eval mode (dropout off)
    public Tensor Logits(Tensor features) => head.call(features);

    /// <summary>Writes the weights with the architecture in the metadata (atomically).</summary>
    public void Save(string path) =>
        Checkpoint.WriteStateDict(path, Checkpoint.StateDict(this).Select(e => KeyValuePair.Create(e.Key, e.Tensor)), new Dictionary<string, string>
        {
            [ModelFolder.KindKey] = Kind,
            [ModelFolder.FormatVersionKey] = ModelFolder.FormatVersion.ToString(CultureInfo.InvariantCulture),
            [ResolutionKey] = Resolution.ToString(CultureInfo.InvariantCulture),
            [WidthKey] = Width.ToString(CultureInfo.InvariantCulture),
            [FeaturesKey] = FeatureDim.ToString(CultureInfo.InvariantCulture),
            [ClassesKey] = NumClasses.ToString(CultureInfo.InvariantCulture),
        });

    /// <summary>A classifier from a file written by <see cref="Save"/>, in eval mode.</summary>
    public static SampleClassifier Load(string path)
    {
        var (tensors, metadata) = Checkpoint.ReadSafeTensors(path);
        try
        {
            if (metadata.GetValueOrDefault(ModelFolder.KindKey) != Kind)
                throw new CheckpointException($"{path}: not a {Kind} (metadata {ModelFolder.KindKey} is '{metadata.GetValueOrDefault(ModelFolder.KindKey, "missing")}')");
            int Get(string key) => metadata.TryGetValue(key, out var v) && int.TryParse(v, CultureInfo.InvariantCulture, out var n) ? n
                : throw new CheckpointException($"{path}: metadata {key} missing or not an integer");
            var model = new SampleClassifier(Get(ClassesKey), Get(ResolutionKey), Get(WidthKey), Get(FeaturesKey));
            Checkpoint.LoadInto(model, tensors, path);
            model.eval();
            return model;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}

/// <summary>
/// A classifier folder: <c>classifier.safetensors</c>, <c>classes.txt</c>, the card <c>README.md</c> and
/// <c>SHA256SUMS</c> (checked when loading, like a model folder).
/// </summary>
public sealed class ClassifierFolder : IDisposable
{
    public SampleClassifier Model { get; }
    public ClassNames Classes { get; }

    ClassifierFolder(SampleClassifier model, ClassNames classes) => (Model, Classes) = (model, classes);

    public static ClassifierFolder Load(string folder, bool skipDigests = false)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"classifier folder {folder} not found");
        FileDigests.Verify(folder, skipDigests);
        var classes = ClassNames.Read(Path.Combine(folder, ModelFolder.ClassesFile));
        var model = SampleClassifier.Load(Path.Combine(folder, SampleClassifier.FileName));
        if (model.NumClasses != classes.Count)
        {
            model.Dispose();
            throw new CheckpointException($"{folder}: the classifier has {model.NumClasses} classes, {ModelFolder.ClassesFile} names {classes.Count}");
        }
        return new ClassifierFolder(model, classes);
    }

    /// <summary>Writes a folder atomically (never over a non-empty one).</summary>
    public static void Save(string folder, SampleClassifier model, ClassNames classes, string card) => ModelFolder.WriteAtomically(folder, dir =>
    {
        model.Save(Path.Combine(dir, SampleClassifier.FileName));
        classes.Save(Path.Combine(dir, ModelFolder.ClassesFile));
        Interop.AtomicFile.WriteAllText(Path.Combine(dir, ModelFolder.CardFile), card);
    });

    public void Dispose() => Model.Dispose();
}
