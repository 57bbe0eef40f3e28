using MaskBit.Config;
using MaskBit.Tokenizer;
using static TorchSharp.torch;

namespace MaskBit.Tests.Tokenizer;

/// <summary>The tokenizer built from each official config has exactly the original's state dict (golden manifests H).</summary>
public class TokenizerManifestTests
{
    public static TheoryData<string> Files => Manifests.Files("tokenizer", "external", "generator", "demo");

    [ManifestTheory("tokenizer", "external", "generator", "demo"), MemberData(nameof(Files))]
    public void TokenizerBuiltFromConfigMatchesManifest(string manifestFile)
    {
        using var scope = NewDisposeScope();
        var manifest = Manifests.Read(manifestFile);
        Assert.True(manifest.GetProperty("models").TryGetProperty("tokenizer", out var expected), $"{manifestFile} lists no tokenizer");
        var config = ConfigLoader.Load(Manifests.ConfigPath(manifest));
        var tokenizer = TokenizerFactory.Create(config.Model!.VqModel!);
        Manifests.AssertMatches(tokenizer.Module, expected);
        tokenizer.Module.Dispose();
    }
}
