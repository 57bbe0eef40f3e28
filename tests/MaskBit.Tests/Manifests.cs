using System.Text.Json;
using MaskBit.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests;

/// <summary>The state-dict manifests of every official config (golden <c>manifests/</c>, tests/golden/README.md, case H).</summary>
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

    /// <summary>"key [d0,d1] dtype kind" for each state-dict entry of the module, in PyTorch order.</summary>
    public static List<string> Describe(nn.Module module, bool withKind = true) =>
        Checkpoint.StateDict(module).Select(e => Entry(e.Key, e.Tensor.shape, DtypeName(e.Tensor.dtype), withKind ? (e.IsParameter ? "param" : "buffer") : null)).ToList();

    /// <summary>The same description of a fixture's entry list (<c>[key, shape, dtype(, kind)]</c>), keys renamed as a loader would.</summary>
    public static List<string> Listed(JsonElement entries, IReadOnlyDictionary<string, string>? renames = null, bool withKind = true) =>
        entries.EnumerateArray().Select(e => Entry(Checkpoint.RenameKey(e[0].GetString()!, renames),
            e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray(), e[2].GetString()!, withKind ? e[3].GetString() : null)).ToList();

    static string Entry(string key, long[] shape, string dtype, string? kind) =>
        $"{key} [{string.Join(",", shape)}] {dtype}{(kind is null ? "" : " " + kind)}";

    /// <summary>
    /// Asserts the module's state dict has exactly the manifest model's entries (keys, order, shapes, dtypes,
    /// parameter/buffer kind) and its entry, parameter and buffer-element counts.
    /// </summary>
    public static void AssertMatches(nn.Module module, JsonElement model)
    {
        var actual = Describe(module);
        var expected = Listed(model.GetProperty("entries"));
        var missing = expected.Except(actual).Take(5).ToList();
        var extra = actual.Except(expected).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"manifest mismatch: missing {string.Join("; ", missing)} | unexpected {string.Join("; ", extra)}");
        Assert.Equal(expected, actual); // same order too
        Assert.Equal(model.GetProperty("num_entries").GetInt32(), actual.Count);
        var entries = Checkpoint.StateDict(module);
        Assert.Equal(model.GetProperty("num_parameters").GetInt64(), entries.Where(e => e.IsParameter).Sum(e => e.Tensor.numel()));
        Assert.Equal(model.GetProperty("num_parameters").GetInt64(), module.parameters().Sum(p => p.numel()));
        Assert.Equal(model.GetProperty("num_buffer_elements").GetInt64(), entries.Where(e => !e.IsParameter).Sum(e => e.Tensor.numel()));
    }

    public static string DtypeName(ScalarType t) => t switch
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
