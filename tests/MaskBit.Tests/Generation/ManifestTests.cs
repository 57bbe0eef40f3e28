using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Interop;

namespace MaskBit.Tests.Generation;

/// <summary>
/// The full-size generator built from every official generator/demo config (golden manifests H) against the
/// state-dict listing the original produced, and the released files' key renames in both directions.
/// </summary>
public class ManifestTests
{
    public static TheoryData<string> Files => Manifests.Files("generator", "demo");

    [ManifestTheory("generator", "demo"), MemberData(nameof(Files))]
    public void GeneratorBuiltFromConfigMatchesManifest(string manifestFile)
    {
        var manifest = Manifests.Read(manifestFile);
        var expected = manifest.GetProperty("models").GetProperty("generator");
        Assert.Equal("LFQBert", expected.GetProperty("class").GetString());
        var config = ConfigLoader.Load(Manifests.ConfigPath(manifest));
        // The original builds the generator for img_size = dataset.preprocessing.resolution (demo_utils: 256).
        using var model = GeneratorFactory.Create(config.Model!.MlmModel!, config.Model.VqModel!, config.Resolution);
        Assert.IsType<LfqBert>(model);
        Assert.Equal(expected.GetProperty("mask_token").GetInt32(), model.MaskToken);
        Manifests.AssertMatches(model, expected);

        var renames = expected.GetProperty("released_file_key_renames").EnumerateObject().ToList();
        Assert.NotEmpty(renames);
        foreach (var r in renames)
        {
            Assert.Equal(r.Value.GetString(), Checkpoint.RenameKey(r.Name, model.SavingKeyRenames));
            Assert.Equal(r.Name, Checkpoint.RenameKey(r.Value.GetString()!, model.FileKeyRenames));
        }
        Assert.All(Checkpoint.StateDict(model).Where(e => !renames.Any(r => r.Name == e.Key)),
            e => Assert.Equal(e.Key, Checkpoint.RenameKey(e.Key, model.SavingKeyRenames)));
    }
}
