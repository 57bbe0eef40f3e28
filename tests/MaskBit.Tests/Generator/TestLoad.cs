using MaskBit.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generator;

/// <summary>
/// Test-local strict loading and PyTorch-ordered state-dict listing (the library's strict
/// <c>Checkpoint.LoadInto</c> lives on another branch).
/// </summary>
static class TestLoad
{
    /// <summary>
    /// Entries in PyTorch's <c>state_dict()</c> order: a module's own parameters, then its own persistent buffers,
    /// then each child recursively. (TorchSharp's own state_dict lists all parameters before all buffers.)
    /// </summary>
    public static List<(string key, Tensor tensor, bool isParam)> PyTorchStateDict(nn.Module module, string prefix = "")
    {
        var entries = new List<(string, Tensor, bool)>();
        foreach (var (name, p) in module.named_parameters(recurse: false)) entries.Add((prefix + name, p, true));
        foreach (var (name, b) in module.named_buffers(recurse: false, include_nonpersistent: false)) entries.Add((prefix + name, b, false));
        foreach (var (name, child) in module.named_children()) entries.AddRange(PyTorchStateDict(child, prefix + name + "."));
        return entries;
    }

    /// <summary>PyTorch's dtype name ("float32", "int32", "int64", ...) as the fixtures write it.</summary>
    public static string PyTorchDType(Tensor t) => t.dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Int32 => "int32",
        ScalarType.Int64 => "int64",
        ScalarType.Bool => "bool",
        var other => other.ToString(),
    };

    /// <summary>Key with the first matching prefix renamed (prefix match on a whole dotted component).</summary>
    public static string Rename(string key, IReadOnlyDictionary<string, string> renames)
    {
        foreach (var (from, to) in renames)
            if (key == from || key.StartsWith(from + ".", StringComparison.Ordinal)) return to + key[from.Length..];
        return key;
    }

    /// <summary>Reads <paramref name="path"/>, renames keys, asserts equal key sets, shapes and dtypes, copies every tensor.</summary>
    public static void LoadStrict(nn.Module module, string path, IReadOnlyDictionary<string, string> renames)
    {
        var file = Checkpoint.ReadStateDict(path);
        var source = file.ToDictionary(kv => Rename(kv.Key, renames), kv => kv.Value);
        var target = PyTorchStateDict(module).ToDictionary(e => e.key, e => e.tensor);
        Assert.Equal(target.Keys.Order(StringComparer.Ordinal), source.Keys.Order(StringComparer.Ordinal));
        using var _ = no_grad();
        foreach (var (key, dst) in target)
        {
            var src = source[key];
            Assert.True(src.shape.SequenceEqual(dst.shape), $"{path}: {key} shape [{string.Join(",", src.shape)}] != model [{string.Join(",", dst.shape)}]");
            Assert.True(src.dtype == dst.dtype, $"{path}: {key} dtype {src.dtype} != model {dst.dtype}");
            dst.copy_(src);
        }
    }
}
