using MaskBit.Data;
using MaskBit.Tests.Data;

namespace MaskBit.Tests.Cli;

/// <summary><c>maskbit make-shards</c>: an image folder to the original's tar shards, and its errors.</summary>
public class MakeShardsCommandTests
{
    [Fact]
    public void MakeShardsWritesShardsThatReadBackAndPrintsTheirPattern()
    {
        using var tmp = new CliRunner.TempDir();
        DataFixtures.ImageFolder(tmp["train"], ("b", "1"), ("a", "1"), ("a", "2"));
        var (code, stdout, stderr) = CliRunner.Run("make-shards", tmp["train"], "-o", tmp["shards"], "--max-count", "2");
        Assert.True(code == 0, stderr);
        var pattern = Path.Combine(tmp["shards"], "train-{0000..0001}.tar");
        Assert.Contains($"wrote 3 images of 2 classes: {pattern}", stdout);
        var shards = new ShardDataset(pattern);
        Assert.Equal(3, shards.Count);
        Assert.Equal(new[] { "a", "b" }, shards.ClassNames.Entries);
        Assert.Equal(new[] { 0, 0, 1 }, Enumerable.Range(0, 3).Select(i => shards.Get(i)).OrderBy(e => e.Key).Select(e => e.Label));
    }

    [Fact]
    public void MakeShardsFailsWithOneLineNamingTheFolder()
    {
        using var tmp = new CliRunner.TempDir();
        var (code, _, stderr) = CliRunner.Run("make-shards", tmp["missing"], "-o", tmp["out"]);
        Assert.Equal(1, code);
        Assert.Equal($"maskbit: error: image folder {tmp["missing"]} not found", stderr.Trim());

        DataFixtures.ImageFolder(tmp["set"], ("a", "1"));
        (code, _, stderr) = CliRunner.Run("make-shards", tmp["set"], "-o", tmp["out"], "--max-count", "0");
        Assert.Equal(1, code);
        Assert.Contains("samples per shard must be >= 1, got 0", stderr);
        Assert.False(Directory.Exists(tmp["out"]) && Directory.EnumerateFiles(tmp["out"]).Any());
    }
}
