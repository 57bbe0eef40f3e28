using MaskBit.Generation;

namespace MaskBit.Tests.Generation;

public class ClassNamesTests
{
    [Theory]
    [InlineData("1", 1)]
    [InlineData("goldfish", 1)]
    [InlineData("Carassius auratus", 1)]
    [InlineData("golden_retriever", 207)]
    [InlineData("Golden Retriever", 207)]
    [InlineData("999", 999)]
    public void ResolvesIndicesAndAnySynonym(string input, int expected) => Assert.Equal(expected, ClassNames.ImageNet.Resolve(input));

    [Fact]
    public void NamesFollowTheClassIndexOrder()
    {
        Assert.Equal("tench", ClassNames.ImageNet.ShortName(0));
        Assert.Equal("toilet tissue, toilet paper, bathroom tissue", ClassNames.ImageNet.Name(999));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassNames.ImageNet.Name(1000));
    }

    [Fact]
    public void UnknownOrOutOfRangeClassesAreClearErrors()
    {
        Assert.Contains("did you mean 'golden retriever', class 207", Assert.Throws<ArgumentException>(() => ClassNames.ImageNet.Resolve("golden retreiver")).Message);
        Assert.Contains("0..999", Assert.Throws<ArgumentException>(() => ClassNames.ImageNet.Resolve("1000")).Message);
        Assert.Contains("0..999", Assert.Throws<ArgumentException>(() => ClassNames.ImageNet.Resolve("-3")).Message);
        Assert.DoesNotContain("did you mean", Assert.Throws<ArgumentException>(() => ClassNames.ImageNet.Resolve("xyzzyplugh quux")).Message);
        // "crane" names a bird (134) and a machine (517).
        Assert.Contains("ambiguous", Assert.Throws<ArgumentException>(() => ClassNames.ImageNet.Resolve("crane")).Message);
    }

    [Fact]
    public void AClassFileRoundTripsAndResolvesItsOwnNames()
    {
        var path = Path.Combine(Path.GetTempPath(), $"classes-{Guid.NewGuid():N}.txt");
        try
        {
            new ClassNames(["T-shirt/top, tee", "Trouser", "Ankle boot"], "test").Save(path);
            var names = ClassNames.Read(path);
            Assert.Equal(3, names.Count);
            Assert.Equal((0, 2, 1), (names.Resolve("tee"), names.Resolve("ankle_boot"), names.Resolve("1")));
            Assert.Equal("T-shirt/top", names.ShortName(0));
            Assert.Contains("did you mean 'trouser', class 1", Assert.Throws<ArgumentException>(() => names.Resolve("trousers")).Message);
            Assert.Contains("0..2", Assert.Throws<ArgumentException>(() => names.Resolve("3")).Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AnEmptyClassFileOrNameIsAnError()
    {
        Assert.Contains("no class names", Assert.Throws<ArgumentException>(() => new ClassNames([], "f.txt")).Message);
        Assert.Contains("class 1 has an empty name", Assert.Throws<ArgumentException>(() => new ClassNames(["a", " ", "c"], "f.txt")).Message);
    }
}
