using System.Text.Json;
using MaskBit.Config;
using MaskBit.Generator;

namespace MaskBit.Tests.Generator;

/// <summary>
/// The full-size generator of every official generator/demo config (golden manifests H) against the state-dict
/// listing the original produced: keys (after the released rename), shapes, dtypes, parameter/buffer kind, order
/// and counts.
/// </summary>
public class ManifestTests
{
    // model.mlm_model / model.vq_model values of the official YAML files (configs/generator/*.yaml,
    // configs/demo/demo.yaml at markweberdev/maskbit 5ea3d73): they differ only in token_size.
    static readonly Dictionary<string, int> TokenSizeByConfig = new()
    {
        ["configs/generator/maskbit_generator_10bit.yaml"] = 10,
        ["configs/generator/maskbit_generator_12bit.yaml"] = 12,
        ["configs/generator/maskbit_generator_14bit.yaml"] = 14,
        ["configs/generator/maskbit_generator_14bit_128steps.yaml"] = 14,
        ["configs/generator/maskbit_generator_14bit_256steps.yaml"] = 14,
        ["configs/generator/maskbit_generator_16bit.yaml"] = 16,
        ["configs/generator/maskbit_generator_18bit.yaml"] = 18,
        ["configs/demo/demo.yaml"] = 14,
    };
    static readonly MlmModelConfig OfficialMlm = new()
    {
        ModelCls = "lfq_bert", HiddenDim = 1024, Depth = 24, Heads = 16, MlpDim = 4096, Dropout = 0.1, CodebookSplits = 2, UsePrenorm = false,
    };
    const int Resolution = 256; // dataset.preprocessing.resolution of the generator configs; demo_utils passes img_size=256

    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var folder in new[] { "generator", "demo" })
            foreach (var f in Directory.GetFiles(Path.Combine(Golden.Dir, "manifests", folder), "*.json").Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(Path.Combine(Golden.Dir, "manifests"), f));
        return data;
    }

    [Theory, MemberData(nameof(Manifests))]
    public void GeneratorStateDictMatchesTheManifest(string manifest)
    {
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Golden.Dir, "manifests", manifest))).RootElement;
        var config = json.GetProperty("config").GetString()!;
        Assert.True(TokenSizeByConfig.TryGetValue(config, out int tokenSize), $"{manifest}: no official values known for {config}");
        var expected = json.GetProperty("models").GetProperty("generator");
        Assert.Equal("LFQBert", expected.GetProperty("class").GetString());

        var vq = new VqModelConfig { TokenSize = tokenSize, CodebookSize = 1 << tokenSize, NumResolutions = 5 };
        using var model = GeneratorFactory.Create(OfficialMlm, vq, Resolution);
        Assert.IsType<LfqBert>(model);
        Assert.Equal(expected.GetProperty("mask_token").GetInt32(), model.MaskToken);

        var entries = TestLoad.PyTorchStateDict(model);
        var actual = entries.Select(e => $"{e.key} [{string.Join(",", e.tensor.shape)}] {TestLoad.PyTorchDType(e.tensor)} {(e.isParam ? "param" : "buffer")}");
        var listed = expected.GetProperty("entries").EnumerateArray()
            .Select(e => $"{e[0].GetString()} [{string.Join(",", e[1].EnumerateArray().Select(d => d.GetInt64()))}] {e[2].GetString()} {e[3].GetString()}");
        Assert.Equal(listed, actual);
        Assert.Equal(expected.GetProperty("num_entries").GetInt32(), entries.Count);
        Assert.Equal(expected.GetProperty("num_parameters").GetInt64(), entries.Where(e => e.isParam).Sum(e => e.tensor.numel()));
        Assert.Equal(expected.GetProperty("num_parameters").GetInt64(), model.parameters().Sum(p => p.numel()));
        Assert.Equal(expected.GetProperty("num_buffer_elements").GetInt64(), entries.Where(e => !e.isParam).Sum(e => e.tensor.numel()));

        var renames = expected.GetProperty("released_file_key_renames").EnumerateObject().ToList();
        Assert.NotEmpty(renames);
        foreach (var r in renames)
        {
            Assert.Equal(r.Value.GetString(), TestLoad.Rename(r.Name, LfqBert.ReleasedKeyRenamesForSaving));
            Assert.Equal(r.Name, TestLoad.Rename(r.Value.GetString()!, LfqBert.ReleasedKeyRenames));
        }
        Assert.All(entries.Where(e => !renames.Any(r => r.Name == e.key)),
            e => Assert.Equal(e.key, TestLoad.Rename(e.key, LfqBert.ReleasedKeyRenamesForSaving)));
    }
}
