using MaskBit.Data;
using MaskBit.Evaluation;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

/// <summary>Images whose class is a bright horizontal band at row band (label) on noise: learnable in a few steps.</summary>
sealed class BandDataset(int count, int classes = 4, int size = 16, int seed = 0) : IImageDataset
{
    public string Source => "bands";
    public int Count => count;
    public ClassNames ClassNames { get; } = new(Enumerable.Range(0, classes).Select(i => $"band{i}"), "bands");

    public Example Get(int index)
    {
        int label = index % classes, band = size / classes;
        var rng = new Random(seed * 100_003 + index);
        var pixels = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            byte v = (byte)(y / band == label ? 200 + rng.Next(56) : rng.Next(80));
            pixels[(y * size + x) * 3] = pixels[(y * size + x) * 3 + 1] = pixels[(y * size + x) * 3 + 2] = v;
        }
        return new Example(new RgbImage(size, size, pixels), label, $"{index:D4}");
    }
}

[Collection(GlobalRngCollection.Name)]
public class SampleClassifierTests
{
    static readonly ClassifierTrainingOptions Tiny = new() { Epochs = 3, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 2, Resolution = 16, Width = 16, FeatureDim = 32, Seed = 1 };

    static SampleClassifier TrainTiny() => ClassifierTrainer.Train(new BandDataset(128), new BandDataset(64, seed: 1), Tiny, out _);

    [Fact]
    public void LearnsASeparableSetAndIsDeterministicForASeed()
    {
        using var a = ClassifierTrainer.Train(new BandDataset(128), new BandDataset(64, seed: 1), Tiny, out var reported);
        Assert.Equal(ClassifierTrainer.Accuracy(a, new BandDataset(64, seed: 1)), reported); // the last epoch's test accuracy
        Assert.True(ClassifierTrainer.Accuracy(a, new BandDataset(64, seed: 2)) >= 0.95);
        Assert.False(a.training); // returned in eval mode
        using var b = TrainTiny();
        foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(pa.equal(pb).all().item<bool>(), name);
    }

    [Fact]
    public void SaveLoadRoundTripKeepsTheArchitectureAndOutputs()
    {
        using var tmp = new CliRunner.TempDir();
        manual_seed(3);
        using var model = new SampleClassifier(4, resolution: 16, width: 16, featureDim: 24);
        model.eval();
        model.Save(tmp["c.safetensors"]);
        using var loaded = SampleClassifier.Load(tmp["c.safetensors"]);
        Assert.Equal((4, 16, 16, 24), (loaded.NumClasses, loaded.Resolution, loaded.Width, loaded.FeatureDim));
        using var x = rand(3, 3, 16, 16);
        using var expected = model.call(x);
        using var got = loaded.call(x);
        Assert.True(expected.equal(got).all().item<bool>());
        using var features = loaded.Features(x);
        using var logits = loaded.Logits(features);
        Assert.True(logits.equal(got).all().item<bool>()); // eval: forward = Logits(Features)
    }

    [Fact]
    public void InputsAndFilesThatDoNotFitAreRefusedInOneLine()
    {
        using var tmp = new CliRunner.TempDir();
        using var model = new SampleClassifier(3, resolution: 8, width: 16, featureDim: 8);
        using var wrongSize = zeros(1, 3, 16, 16);
        DataFixtures.OneLine(Assert.Throws<ArgumentException>(() => model.Features(wrongSize)));
        Assert.Contains("at least 2 classes", Assert.Throws<ArgumentException>(() => new SampleClassifier(1)).Message);

        // Not a classifier: a safetensors file of another kind.
        using (var t = zeros(2)) Checkpoint.WriteStateDict(tmp["x.safetensors"], [KeyValuePair.Create("w", t)], new Dictionary<string, string> { ["maskbit.kind"] = "tokenizer" });
        var e = Assert.Throws<CheckpointException>(() => SampleClassifier.Load(tmp["x.safetensors"]));
        Assert.Contains("not a classifier", e.Message);

        // A folder whose classes.txt disagrees with the weights.
        ClassifierFolder.Save(tmp["folder"], model, new ClassNames(["a", "b", "c"], "t"), "card\n");
        File.WriteAllText(tmp["folder/classes.txt"], "a\nb\n");
        Assert.Contains("SHA256SUMS", Assert.ThrowsAny<Exception>(() => ClassifierFolder.Load(tmp["folder"])).Message);
        var mismatch = Assert.Throws<CheckpointException>(() => ClassifierFolder.Load(tmp["folder"], skipDigests: true));
        Assert.Contains("3 classes, classes.txt names 2", mismatch.Message);
        Assert.Throws<IOException>(() => ClassifierFolder.Save(tmp["folder"], model, new ClassNames(["a", "b", "c"], "t"), "x")); // never overwritten
    }
}
