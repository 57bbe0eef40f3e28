namespace MaskBit.Tests.Cli;

/// <summary>The benchmark command runs end to end (its numbers are read by people, not asserted).</summary>
public class BenchCommandTests
{
    [Fact]
    public void BenchRunsOnATinyConfigAndReportsTimeAndMemory()
    {
        var config = Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
        var (code, stdout, stderr) = CliRunner.Run("bench", "-c", config, "--steps", "2", "--batch-size", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("sampling, s per image", stdout);
        Assert.Contains("peak resident memory", stdout);
        Assert.Contains("2, 2 (guidance", stdout);
        Assert.Equal(1, CliRunner.Run("bench", "-c", config, "--steps", "0").code);
    }
}
