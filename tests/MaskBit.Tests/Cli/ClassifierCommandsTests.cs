using MaskBit.Evaluation;
using MaskBit.Imaging;
using MaskBit.Tests.Data;

namespace MaskBit.Tests.Cli;

/// <summary><c>maskbit train-classifier</c> and <c>maskbit score</c> end to end on tiny data.</summary>
[Collection(GlobalRngCollection.Name)]
public class ClassifierCommandsTests
{
    [Fact]
    public void TrainClassifierWritesAFolderWithItsCardThatScoreUses()
    {
        using var tmp = new CliRunner.TempDir();
        DataFixtures.FashionMnistFolder(tmp["fmnist"], 40, 20);
        var data = $"fashion-mnist:{tmp["fmnist"]}";
        var (code, stdout, stderr) = CliRunner.Run("train-classifier", "--data", data, "--epochs", "1", "--batch-size", "8", "--resolution", "8", "-o", tmp["c"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("test accuracy", stdout);
        using (var folder = ClassifierFolder.Load(tmp["c"]))
            Assert.Equal((10, 8), (folder.Model.NumClasses, folder.Model.Resolution));
        var card = File.ReadAllText(Path.Combine(tmp["c"], "README.md"));
        Assert.Contains("Test accuracy", card);
        Assert.Contains("Zalando SE", card); // the data set's attribution

        // The test split as "samples" in class folders, scored against itself: a floor and a distance of ~0.
        foreach (var c in new[] { 0, 1 })
            for (int i = 0; i < 3; i++)
                MaskBit.Imaging.Images.Save(tmp[$"s/{c}/{i}.png"], DataFixtures.RandomImage(5, 4, 10 * c + i));
        MaskBit.Imaging.Images.Save(tmp["s/2/0.png"], DataFixtures.RandomImage(5, 4, 20)); // one sample: no per-class distance
        (code, stdout, stderr) = CliRunner.Run("score", tmp["s"], "--classifier", tmp["c"], "--reference", data, "--json");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"samples\":7", stdout);
        Assert.Contains("floor (7 real images", stdout);
        using var json = System.Text.Json.JsonDocument.Parse(stdout.Split('\n').Last(l => l.StartsWith('{')));
        var perClass = json.RootElement.GetProperty("per_class").EnumerateObject().Select(p => p.Value).ToList();
        Assert.Equal(3, perClass.Count);
        Assert.All(perClass.Take(2), c => Assert.True(c.GetProperty("frechet_distance").GetDouble() > 0 && c.GetProperty("floor").GetDouble() > 0));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, perClass[2].GetProperty("frechet_distance").ValueKind);

        CliRunner.AssertFailsWithOneLine(["train-classifier", "--data", data, "-o", tmp["c"]], "folder exists and is not empty");
        CliRunner.AssertFailsWithOneLine(["train-classifier", "--data", data, "--batch-size", "64", "-o", tmp["d"]], "fewer than one batch of 64");
        CliRunner.AssertFailsWithOneLine(["score", tmp["missing"], "--classifier", tmp["c"], "--reference", data], "sample folder");
        CliRunner.AssertFailsWithOneLine(["score", tmp["s"], "--classifier", tmp["fmnist"], "--reference", data], "SHA256SUMS");
        Assert.False(Directory.Exists(tmp["d"]));
    }
}
