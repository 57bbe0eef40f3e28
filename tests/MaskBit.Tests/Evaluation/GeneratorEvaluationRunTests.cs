using MaskBit.Distributed;
using MaskBit.Evaluation;

namespace MaskBit.Tests.Evaluation;

/// <summary>The evaluation protocol's bookkeeping: labels and shards (the sampling itself: Cli/EvalCommandsTests).</summary>
public class GeneratorEvaluationRunTests
{
    [Fact]
    public void LabelsRepeatOneSeededPermutationOfTheClasses()
    {
        int[] classes = [3, 5, 7, 9];
        var labels = GeneratorEvaluationRun.Labels(classes, perClass: 3, seed: 11);
        Assert.Equal(12, labels.Count);
        var blocks = labels.Chunk(classes.Length).ToList();
        Assert.All(blocks, b => Assert.Equal(classes, b.Order())); // every block of C samples holds each class once
        Assert.All(blocks, b => Assert.Equal(blocks[0], b));          // the same order in every block, as repeat() gives
        Assert.Equal(labels, GeneratorEvaluationRun.Labels(classes, 3, 11));
        Assert.Contains(Enumerable.Range(0, 8), s => !GeneratorEvaluationRun.Labels(classes, 1, (ulong)s).SequenceEqual(blocks[0]));
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(7, 7)]
    [InlineData(2, 5)]
    public void ShardsCoverTheSamplesOnceInOrder(long total, int count)
    {
        var ranges = Enumerable.Range(0, count).Select(i => new Shard(i, count).Range(total)).ToList();
        Assert.Equal(0, ranges[0].Start);
        Assert.Equal(total, ranges[^1].End);
        for (int i = 1; i < count; i++) Assert.Equal(ranges[i - 1].End, ranges[i].Start);
        Assert.All(ranges, r => Assert.InRange(r.End - r.Start, total / count, total / count + 1));
    }

    [Fact]
    public void ShardParsesIOfNAndNamesTheOptionOtherwise()
    {
        Assert.Equal(new Shard(2, 8), Shard.Parse("2/8"));
        Assert.Equal("2/8", Shard.Parse("2/8").ToString());
        Assert.Equal(Shard.Whole, Shard.Parse("0/1"));
        foreach (var bad in new[] { "8/8", "-1/2", "1", "a/b", "1/0", "1/2/3" })
            Assert.Contains("--shard must be i/n", Assert.Throws<ArgumentException>(() => Shard.Parse(bad)).Message);
    }
}
