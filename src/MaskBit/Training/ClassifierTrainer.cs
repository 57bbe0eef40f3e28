using System.Diagnostics;
using System.Globalization;
using MaskBit.Data;
using MaskBit.Evaluation;

namespace MaskBit.Training;

/// <summary>How <see cref="ClassifierTrainer"/> trains a <see cref="SampleClassifier"/>.</summary>
public sealed record ClassifierTrainingOptions
{
    public int Epochs { get; init; } = 4;
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 2e-3;
    public double WeightDecay { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 100;
    public ulong Seed { get; init; }
    public int Resolution { get; init; } = 32;
    public int Width { get; init; } = 16;
    public int FeatureDim { get; init; } = 128;
}

/// <summary>
/// Trains the classifier that <c>maskbit score</c> judges samples with: cross-entropy, AdamW with a cosine schedule
/// after a linear warm-up, random horizontal flips, test accuracy after every epoch. Both data sets are decoded and
/// resized once (<see cref="ImageTensors"/>, the same bilinear resampling the tokenizer's data saw); epochs are seeded
/// permutations, so training is deterministic for a seed on CPU.
/// </summary>
public static class ClassifierTrainer
{
    /// <summary>What <see cref="TrainToFolder"/> reached: the test accuracy and the minutes it took.</summary>
    public sealed record Result(double Accuracy, double Minutes);

    /// <summary>
    /// Trains (<see cref="Train"/>) and writes the classifier folder <paramref name="outDir"/> (atomically; an existing
    /// non-empty folder is refused before any work) with its card: the data, <paramref name="commandLine"/>, the
    /// settings, the time and machine, the test accuracy and the log.
    /// </summary>
    public static Result TrainToFolder(IImageDataset train, IImageDataset test, ClassifierTrainingOptions o, string outDir, string commandLine,
        Action<string>? log = null, Action<long, long>? onStep = null, CancellationToken cancellationToken = default)
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new IOException($"{outDir}: folder exists and is not empty (nothing is overwritten; choose another output)");
        var clock = Stopwatch.StartNew();
        var lines = new List<string>();
        using var model = Train(train, test, o, out double accuracy, line => { lines.Add(line); log?.Invoke(line); }, onStep, cancellationToken);
        var result = new Result(accuracy, clock.Elapsed.TotalMinutes);
        ClassifierFolder.Save(outDir, model, train.ClassNames, Card(commandLine, train, test, o, result, lines));
        return result;
    }

    static string Card(string commandLine, IImageDataset train, IImageDataset test, ClassifierTrainingOptions o, Result result, List<string> log)
    {
        var inv = CultureInfo.InvariantCulture;
        bool fashion = train is IdxDataset;
        string[] lines =
        [
            $"# Sample classifier ({train.ClassNames.Count} classes, {o.Resolution}x{o.Resolution})",
            "",
            "The small CNN (`SampleClassifier`) that `maskbit score` uses to judge class-conditional samples: accuracy against",
            "the requested class, and a Fréchet distance on its 128-d penultimate features.",
            "",
            "## Data",
            fashion ? "Fashion-MNIST (Zalando SE, MIT licence: https://github.com/zalandoresearch/fashion-mnist), from Debian's `dataset-fashion-mnist`." : $"Training: {train.Source}.",
            $"{train.Count:N0} training images (resized to {o.Resolution}x{o.Resolution}, bilinear; random horizontal flips); accuracy on the {test.Count:N0} images of {test.Source}.",
            "",
            "## Training",
            "```bash",
            commandLine,
            "```",
            string.Create(inv, $"{o.Epochs} epochs, batch {o.BatchSize}, AdamW (lr {o.LearningRate}, weight decay {o.WeightDecay}), cosine schedule after {o.WarmupSteps} warm-up steps, seed {o.Seed}."),
            string.Create(inv, $"{result.Minutes:F1} minutes on {MachineInfo.Describe()} (CPU libtorch, fp32)."),
            "",
            "## Metrics",
            string.Create(inv, $"Test accuracy **{result.Accuracy:P2}**."),
            "",
            "```",
            .. log,
            "```",
            "",
        ];
        return string.Join('\n', lines);
    }

    /// <summary>The trained classifier (eval mode); <paramref name="testAccuracy"/> is its accuracy on <paramref name="test"/>
    /// after the last epoch.</summary>
    public static SampleClassifier Train(IImageDataset train, IImageDataset test, ClassifierTrainingOptions o, out double testAccuracy,
        Action<string>? log = null, Action<long, long>? onStep = null, CancellationToken cancellationToken = default)
    {
        if (train.ClassNames.Count != test.ClassNames.Count)
            throw new ArgumentException($"training data {train.Source} has {train.ClassNames.Count} classes, test data {test.Source} {test.ClassNames.Count}");
        int perEpoch = train.Count / o.BatchSize;
        if (perEpoch == 0) throw new ArgumentException($"training data {train.Source} has {train.Count} images, fewer than one batch of {o.BatchSize}");
        using var trainSet = ImageTensors.Load(train, o.Resolution);
        using var testSet = ImageTensors.Load(test, o.Resolution);
        manual_seed(unchecked((long)o.Seed));
        var model = new SampleClassifier(train.ClassNames.Count, o.Resolution, o.Width, o.FeatureDim);
        testAccuracy = double.NaN;
        try
        {
            long steps = (long)o.Epochs * perEpoch, step = 0;
            var schedule = new LrSchedule("cosine", o.WarmupSteps, (int)steps, BaseLr: o.LearningRate);
            using var optimizer = new AdamW(model.named_parameters().Select(p => (p.name, p.parameter)), weightDecay: o.WeightDecay);
            using var rng = new torch.Generator(o.Seed);
            for (int epoch = 1; epoch <= o.Epochs; epoch++)
            {
                using var order = randperm(trainSet.Count, generator: rng);
                double loss = 0;
                for (int b = 0; b < perEpoch; b++, step++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    model.train();
                    var (x, y) = trainSet.Batch(order.narrow(0, (long)b * o.BatchSize, o.BatchSize)); // [B, 3, S, S], [B]
                    var flip = rand(o.BatchSize, generator: rng).lt(Const(0.5)).view(-1, 1, 1, 1);
                    var output = F.cross_entropy(model.call(where(flip, x.flip(3), x)), y); // logits [B, classes]
                    optimizer.ZeroGrad();
                    output.backward();
                    optimizer.Step(schedule.LearningRate(step));
                    loss += output.item<float>();
                    onStep?.Invoke(step + 1, steps);
                }
                testAccuracy = Accuracy(model, testSet, o.BatchSize);
                log?.Invoke($"epoch {epoch}/{o.Epochs}: mean loss {loss / perEpoch:F4}, test accuracy {testAccuracy:P2}");
            }
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The share of <paramref name="data"/> (resized to the classifier's resolution) classified correctly.</summary>
    public static double Accuracy(SampleClassifier model, IImageDataset data, int batchSize = 256)
    {
        using var set = ImageTensors.Load(data, model.Resolution);
        return Accuracy(model, set, batchSize);
    }

    /// <summary>The share of <paramref name="data"/> classified correctly.</summary>
    public static double Accuracy(SampleClassifier model, ImageTensors data, int batchSize = 256)
    {
        bool training = model.training;
        model.eval();
        long correct = 0;
        using (no_grad())
            for (long s = 0; s < data.Count; s += batchSize)
            {
                using var scope = NewDisposeScope();
                using var start = s.ToScalar();
                using var stop = Math.Min(s + batchSize, data.Count).ToScalar();
                var (x, y) = data.Batch(arange(start, stop, One, dtype: int64));
                correct += model.call(x).argmax(1).eq(y).sum().item<long>();
            }
        model.train(training);
        return (double)correct / data.Count;
    }
}
