using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests;

/// <summary>The state-dict manifests of every official config (golden <c>manifests/</c>, README section H).</summary>
public static class Manifests
{
    /// <summary>Relative paths (under manifests/) of every manifest whose config lies in one of <paramref name="groups"/>.</summary>
    public static TheoryData<string> Files(params string[] groups)
    {
        var root = Path.Combine(Golden.Dir, "manifests");
        var data = new TheoryData<string>();
        foreach (var g in groups)
        {
            var dir = Path.Combine(root, g);
            if (!Directory.Exists(dir)) continue;
            foreach (var f in Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(root, f));
        }
        return data;
    }

    public static JsonElement Read(string relative) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Golden.Dir, "manifests", relative))).RootElement;

    /// <summary>The config file the manifest was built from, resolved in this repository.</summary>
    public static string ConfigPath(JsonElement manifest) => Path.Combine(Golden.RepoRoot, manifest.GetProperty("config").GetString()!);

    /// <summary>
    /// Asserts the module's state dict has exactly the manifest's entries: keys (after <paramref name="renames"/>
    /// of whole keys), order, shapes, dtypes, parameter/buffer kind, and the parameter count.
    /// </summary>
    public static void AssertMatches(nn.Module module, JsonElement model, IReadOnlyDictionary<string, string>? renames = null)
    {
        var parameters = module.named_parameters().Select(p => p.name).ToHashSet();
        var actual = module.state_dict().Select(kv =>
        {
            var key = renames is not null && renames.TryGetValue(kv.Key, out var r) ? r : kv.Key;
            var kind = parameters.Contains(kv.Key) ? "param" : "buffer";
            return $"{key} [{string.Join(", ", kv.Value.shape)}] {DtypeName(kv.Value.dtype)} {kind}";
        }).ToList();
        var expected = model.GetProperty("entries").EnumerateArray().Select(e =>
            $"{e[0].GetString()} [{string.Join(", ", e[1].EnumerateArray().Select(d => d.GetInt64()))}] {e[2].GetString()} {e[3].GetString()}").ToList();
        var missing = expected.Except(actual).Take(5).ToList();
        var extra = actual.Except(expected).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"manifest mismatch: missing {string.Join("; ", missing)} | unexpected {string.Join("; ", extra)}");
        Assert.Equal(expected, actual); // same order too
        Assert.Equal(model.GetProperty("num_entries").GetInt32(), actual.Count);
        Assert.Equal(model.GetProperty("num_parameters").GetInt64(), module.parameters().Sum(p => p.numel()));
    }

    static string DtypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Int32 => "int32",
        ScalarType.Int64 => "int64",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float64 => "float64",
        ScalarType.Bool => "bool",
        _ => t.ToString(),
    };
}
