using MaskBit.Config;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>The discriminator built from each official tokenizer config has exactly the original's state dict (manifests H).</summary>
public class DiscriminatorManifestTests
{
    public static TheoryData<string> Files => Manifests.Files("tokenizer", "external");

    [ManifestTheory("tokenizer", "external"), MemberData(nameof(Files))]
    public void DiscriminatorBuiltFromConfigMatchesManifest(string manifestFile)
    {
        using var scope = NewDisposeScope();
        var manifest = Manifests.Read(manifestFile);
        var config = ConfigLoader.Load(Manifests.ConfigPath(manifest));
        if (!manifest.GetProperty("models").TryGetProperty("discriminator", out var expected))
        {
            Assert.Null(config.Model!.Discriminator); // configs without a discriminator (evaluation-only) list none
            return;
        }
        using var d = new Discriminator(config.Model!.Discriminator!);
        Manifests.AssertMatches(d, expected);
    }
}
