using MaskBit.Data;
using MaskBit.Evaluation;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using MaskBit.Training;

namespace MaskBit.Tests.Evaluation;

[Collection(GlobalRngCollection.Name)]
public class SampleScorerTests
{
    static readonly ClassNames Bands = new BandDataset(1).ClassNames;

    // Writes data[i] as <i>_<requested class>_<name>.png, the names generate --save-individual gives.
    static void WriteSamples(string folder, IImageDataset data, Func<int, int>? requested = null)
    {
        for (int i = 0; i < data.Count; i++)
        {
            var ex = data.Get(i);
            int label = requested?.Invoke(ex.Label) ?? ex.Label;
            Images.Save(Path.Combine(folder, $"{i:D4}_{label:D3}_{Bands.ShortName(label)}.png"), ex.Image);
        }
    }

    [Fact]
    public void RealImagesScoreHighAndNearTheFloorMislabelledOnesDoNot()
    {
        using var tmp = new CliRunner.TempDir();
        using var model = ClassifierTrainer.Train(new BandDataset(128), new BandDataset(64, seed: 1),
            new ClassifierTrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 2, Resolution = 16, FeatureDim = 32, Seed = 1 }, out _);
        var reference = new BandDataset(64, seed: 1);
        var floor = new BandDataset(200, seed: 3);

        WriteSamples(tmp["good"], new BandDataset(40, seed: 4));
        var good = SampleScorer.Score(model, SampleScorer.ListSamples(tmp["good"], Bands), reference, floor, seed: 5);
        Assert.Equal(40, good.Count);
        Assert.True(good.Accuracy >= 0.95, $"accuracy {good.Accuracy}");
        Assert.Equal([0, 1, 2, 3], good.PerClass.Select(c => c.Label));
        Assert.All(good.PerClass, c => Assert.Equal(10, c.Count));
        Assert.True(good.Floor > 0 && double.IsFinite(good.FrechetDistance));

        // Every image requested as the next class: nothing is classified as requested.
        WriteSamples(tmp["shifted"], new BandDataset(40, seed: 4), label => (label + 1) % 4);
        var shifted = SampleScorer.Score(model, SampleScorer.ListSamples(tmp["shifted"], Bands), reference, floor, seed: 5);
        Assert.Equal(0.0, shifted.Accuracy);
        Assert.Equal(good.FrechetDistance, shifted.FrechetDistance, 9); // the images are the same

        // Band 0 images requested as every class in turn: far from the reference and from the (balanced) floor.
        var band0 = new BandDataset(160, seed: 6);
        for (int i = 0; i < 40; i++)
            Images.Save(tmp[$"collapsed/{i:D4}_{i % 4:D3}_{Bands.ShortName(i % 4)}.png"], band0.Get(4 * i).Image);
        var collapsed = SampleScorer.Score(model, SampleScorer.ListSamples(tmp["collapsed"], Bands), reference, floor, seed: 5);
        Assert.Equal(0.25, collapsed.Accuracy, 2);
        Assert.True(collapsed.FloorRatio > 3 * good.FloorRatio, $"collapsed {collapsed.FloorRatio}, good {good.FloorRatio}");
        // Per class, only class 0's samples are real images of it: the distance shows which classes are off.
        Assert.All(collapsed.PerClass.Skip(1), c => Assert.True(c.FrechetDistance > 3 * collapsed.PerClass[0].FrechetDistance,
            $"class {c.Label}: {c.FrechetDistance}, class 0: {collapsed.PerClass[0].FrechetDistance}"));
        Assert.Equal(good.PerClass.Select(c => c.Floor), collapsed.PerClass.Select(c => c.Floor)); // same classes, same draw
        Assert.All(good.PerClass, c => Assert.True(c.FrechetDistance < 3 * c.Floor, $"class {c.Label}: {c.FrechetDistance} vs floor {c.Floor}"));
    }

    [Fact]
    public void TheFloorDrawsAsManyRealImagesOfEachClassAsTheSamplesHave()
    {
        using var tmp = new CliRunner.TempDir();
        using var model = new SampleClassifier(4, resolution: 16, featureDim: 8);
        model.eval();
        WriteSamples(tmp["s"], new DatasetSubset(new BandDataset(12), [0, 4, 8, 1])); // three of class 0, one of class 1
        var samples = SampleScorer.ListSamples(tmp["s"], Bands);
        var floorData = new DatasetSubset(new BandDataset(8, seed: 2), [0, 4, 1, 5, 2]); // two of class 0
        var e = Assert.Throws<ArgumentException>(() => SampleScorer.Score(model, samples, new BandDataset(8), floorData));
        Assert.Contains("has 2 images of class 0, fewer than the 3 samples of it", e.Message);
        var report = SampleScorer.Score(model, samples, new BandDataset(8), new BandDataset(40, seed: 2));
        Assert.Contains("(4 of 40)", report.FloorSource);
    }

    [Fact]
    public void SampleFoldersByFileNameOrClassSubFolder()
    {
        using var tmp = new CliRunner.TempDir();
        var image = DataFixtures.RandomImage(8, 8, 1);
        Images.Save(tmp["a/0000_002_band2.png"], image);
        Images.Save(tmp["a/0001_000.png"], image);
        Images.Save(tmp["a/band3/x.png"], image);
        Images.Save(tmp["a/1/y.png"], image);
        File.WriteAllText(tmp["a/notes.txt"], "ignored");
        var files = SampleScorer.ListSamples(tmp["a"], Bands);
        Assert.Equal([2, 0, 1, 3], files.Files.Select(f => f.Label)); // files first, then folders in name order ("1" < "band3")
    }

    public static TheoryData<string, string> BadFolders => new()
    {
        { "0000_sneaker.png", "cannot tell the requested class" },
        { "0000_007_x.png", "out of range" },
        { "hats/x.png", "hats" },
        { "", "holds no images" },
    };

    [Theory, MemberData(nameof(BadFolders))]
    public void FoldersWhoseClassesCannotBeToldAreRefusedInOneLine(string file, string expected)
    {
        using var tmp = new CliRunner.TempDir();
        Directory.CreateDirectory(tmp["s"]);
        if (file != "") Images.Save(Path.Combine(tmp["s"], file), DataFixtures.RandomImage(8, 8, 1));
        var e = Assert.Throws<InvalidDataException>(() => SampleScorer.ListSamples(tmp["s"], Bands));
        Assert.Contains(expected, e.Message);
        DataFixtures.OneLine(e);
        Assert.Throws<DirectoryNotFoundException>(() => SampleScorer.ListSamples(tmp["missing"], Bands));
    }
}
