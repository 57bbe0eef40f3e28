using MaskBit.Generation;

namespace MaskBit.Tests.Generation;

public class ImageNetClassesTests
{
    [Theory]
    [InlineData("1", 1)]
    [InlineData("goldfish", 1)]
    [InlineData("Carassius auratus", 1)]
    [InlineData("golden_retriever", 207)]
    [InlineData("Golden Retriever", 207)]
    [InlineData("999", 999)]
    public void ResolvesIndicesAndAnySynonym(string input, int expected) => Assert.Equal(expected, ImageNetClasses.Resolve(input));

    [Fact]
    public void NamesFollowTheClassIndexOrder()
    {
        Assert.Equal("tench", ImageNetClasses.ShortName(0));
        Assert.Equal("toilet tissue, toilet paper, bathroom tissue", ImageNetClasses.Name(999));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageNetClasses.Name(1000));
    }

    [Fact]
    public void UnknownOrOutOfRangeClassesAreClearErrors()
    {
        Assert.Contains("did you mean 'golden retriever', class 207", Assert.Throws<ArgumentException>(() => ImageNetClasses.Resolve("golden retreiver")).Message);
        Assert.Contains("0..999", Assert.Throws<ArgumentException>(() => ImageNetClasses.Resolve("1000")).Message);
        Assert.Contains("0..999", Assert.Throws<ArgumentException>(() => ImageNetClasses.Resolve("-3")).Message);
        Assert.DoesNotContain("did you mean", Assert.Throws<ArgumentException>(() => ImageNetClasses.Resolve("xyzzyplugh quux")).Message);
        // "crane" names a bird (134) and a machine (517).
        Assert.Contains("ambiguous", Assert.Throws<ArgumentException>(() => ImageNetClasses.Resolve("crane")).Message);
    }
}
