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
    public int Seed { get; init; }
    public int Resolution { get; init; } = 32;
    public int Width { get; init; } = 16;
    public int FeatureDim { get; init; } = 128;
    public int Workers { get; init; } = 2;
}

/// <summary>
/// Trains the classifier that <c>maskbit score</c> judges samples with: cross-entropy, AdamW with a cosine schedule
/// after a linear warm-up, random horizontal flips (images resized to the classifier's resolution with the same
/// bilinear resampling the tokenizer's data saw), test accuracy after every epoch. Deterministic for a seed on CPU.
/// </summary>
public static class ClassifierTrainer
{
    public static SampleClassifier Train(IImageDataset train, IImageDataset test, ClassifierTrainingOptions o,
        Action<string>? log = null, Action<long, long>? onStep = null, CancellationToken cancellationToken = default)
    {
        if (train.ClassNames.Count != test.ClassNames.Count)
            throw new ArgumentException($"training data {train.Source} has {train.ClassNames.Count} classes, test data {test.Source} {test.ClassNames.Count}");
        manual_seed(o.Seed);
        var model = new SampleClassifier(train.ClassNames.Count, o.Resolution, o.Width, o.FeatureDim);
        try
        {
            // Scale (1, 1) and ratio (1, 1): the crop is the whole image, so this is resize + random flip.
            var flip = new ImageTransform(o.Resolution, Interpolation.Bilinear, randomCrop: true, minScale: 1.0, aspectRatioAug: false);
            using var loader = new Data.DataLoader(train, flip, new LoaderOptions { BatchSize = o.BatchSize, Seed = o.Seed, Workers = o.Workers });
            long steps = (long)o.Epochs * loader.BatchesPerEpoch;
            var schedule = new LrSchedule("cosine", o.WarmupSteps, (int)steps, BaseLr: o.LearningRate);
            using var optimizer = new AdamW(model.named_parameters().Select(p => (p.name, p.parameter)), weightDecay: o.WeightDecay);
            for (long step = 0; step < steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                model.train();
                using var batch = loader.Next()!;
                var loss = F.cross_entropy(model.call(batch.Images), batch.Labels); // logits [B, classes]
                optimizer.ZeroGrad();
                loss.backward();
                optimizer.Step(schedule.LearningRate(step));
                onStep?.Invoke(step + 1, steps);
                if ((step + 1) % loader.BatchesPerEpoch == 0)
                    log?.Invoke($"epoch {(step + 1) / loader.BatchesPerEpoch}/{o.Epochs}: loss {loss.item<float>():F4}, test accuracy {Accuracy(model, test, o.BatchSize, o.Workers):P2}");
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
    public static double Accuracy(SampleClassifier model, IImageDataset data, int batchSize = 256, int workers = 2)
    {
        bool training = model.training;
        model.eval();
        using var loader = new Data.DataLoader(data, new ImageTransform(model.Resolution, Interpolation.Bilinear, randomCrop: false),
            new LoaderOptions { BatchSize = batchSize, Train = false, Workers = workers });
        long correct = 0, total = 0;
        using (no_grad())
            while (loader.Next() is { } batch)
                using (batch)
                {
                    using var predicted = model.call(batch.Images).argmax(1);
                    using var hits = predicted.eq(batch.Labels);
                    correct += hits.sum().item<long>();
                    total += batch.Count;
                }
        model.train(training);
        return (double)correct / total;
    }
}
