using System.Text.Json;
using MaskBit.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests;

/// <summary>
/// The fixtures written by the original code. Tests read the folder named by <c>MASKBIT_GOLDEN_DIR</c> when it is
/// set, else the repo copy <c>tests/golden</c>, and check every case folder of a kind they know.
/// </summary>
public sealed class GoldenCase
{
    public required string Name { get; init; }
    public required string Dir { get; init; }
    public required JsonElement Json { get; init; }
    public string Kind => Json.GetProperty("kind").GetString()!;
    public string ModelPath => Path.Combine(Dir, "model.bin");
    public override string ToString() => Name;

    OrderedDictionary<string, Tensor>? _tensors;
    /// <summary>The fixture tensors, kept alive for the case's lifetime even when first read inside a dispose scope.</summary>
    public OrderedDictionary<string, Tensor> Tensors => _tensors ??= Keep(Checkpoint.ReadStateDict(Path.Combine(Dir, "tensors.pt")));

    static OrderedDictionary<string, Tensor> Keep(OrderedDictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.DetachFromDisposeScope();
        return tensors;
    }
    public Tensor this[string name] => Tensors.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Name}/tensors.pt has no tensor '{name}'");
    public bool Has(string name) => Tensors.ContainsKey(name);

    /// <summary>(atol, rtol) stated by the case for <paramref name="tensor"/>; <c>null</c> when it is compared exactly.</summary>
    public (double atol, double rtol)? Tolerance(string tensor, double defaultAtol = 1e-4)
    {
        if (Json.TryGetProperty("tolerances", out var tol) && tol.TryGetProperty("per_tensor", out var per)
            && per.TryGetProperty(tensor, out var t))
        {
            if (t.ValueKind == JsonValueKind.String) return null; // "exact"
            return (t.GetProperty("atol").GetDouble(), t.TryGetProperty("rtol", out var r) ? r.GetDouble() : 0);
        }
        return (defaultAtol, 0);
    }

    readonly HashSet<string> _checked = new(StringComparer.Ordinal);

    /// <summary>Asserts actual ≈ golden tensor within the case's tolerance (exact for integer tensors).</summary>
    public void AssertClose(string name, Tensor actual, double defaultAtol = 1e-4)
    {
        var expected = this[name];
        Golden.AssertClose(expected, actual, Tolerance(name, defaultAtol), $"{Name}:{name}");
        _checked.Add(name);
    }

    /// <summary>
    /// Fails unless every tensor of tensors.pt that <paramref name="inScope"/> selects was compared by
    /// <see cref="AssertClose"/> or is named in <paramref name="notCompared"/> (inputs fed to the model, or tensors
    /// skipped, with the reason), so a fixture tensor the test does not know cannot go unchecked.
    /// </summary>
    public void AssertEveryTensorChecked(Func<string, bool> inScope, IReadOnlyDictionary<string, string> notCompared)
    {
        var missed = Tensors.Keys.Where(k => inScope(k) && !_checked.Contains(k) && !notCompared.ContainsKey(k)).ToList();
        Assert.True(missed.Count == 0, $"{Name}/tensors.pt: tensors neither checked nor named as not compared: {string.Join(", ", missed)}");
    }
}

public static class Golden
{
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "MaskBit.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (MaskBit.slnx) above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// The fixtures shipped in this repository. End-to-end tests that only need "a checkpoint written by the
    /// original" (the CLI tests, matched to configs/presets) use these, so they do not depend on which fixture set
    /// <see cref="Dir"/> names.
    /// </summary>
    public static string RepoCopy => Path.Combine(RepoRoot, "tests", "golden");

    public static string Dir
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("MASKBIT_GOLDEN_DIR");
            return string.IsNullOrEmpty(env) ? RepoCopy : Path.GetFullPath(env);
        }
    }

    /// <summary>Every case folder (with a case.json) whose kind is <paramref name="kind"/>.</summary>
    public static IEnumerable<GoldenCase> Cases(string kind)
    {
        if (!Directory.Exists(Dir)) throw new DirectoryNotFoundException($"golden fixture folder not found: {Dir}");
        foreach (var d in Directory.GetDirectories(Dir).OrderBy(x => x, StringComparer.Ordinal))
        {
            var cj = Path.Combine(d, "case.json");
            if (!File.Exists(cj)) continue;
            var json = JsonDocument.Parse(File.ReadAllText(cj)).RootElement;
            if (json.GetProperty("kind").GetString() == kind)
                yield return new GoldenCase { Name = Path.GetFileName(d), Dir = d, Json = json };
        }
    }

    /// <summary>xunit MemberData: one row per case of the kind.</summary>
    public static TheoryData<string> CaseNames(string kind)
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases(kind)) data.Add(c.Name);
        return data;
    }

    public static GoldenCase Case(string name)
    {
        var d = Path.Combine(Dir, name);
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(d, "case.json"))).RootElement;
        return new GoldenCase { Name = name, Dir = d, Json = json };
    }

    public static void AssertClose(Tensor expected, Tensor actual, (double atol, double rtol)? tol, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}] != expected [{string.Join(",", expected.shape)}]");
        if (tol is null || !expected.is_floating_point())
        {
            var eq = expected.to(int64).eq(actual.to(int64));
            var bad = eq.logical_not().sum().item<long>();
            Assert.True(bad == 0, $"{what}: {bad} of {expected.numel()} elements differ (exact comparison)");
            return;
        }
        var (atol, rtol) = tol.Value;
        var e = expected.to(float64);
        var a = actual.to(float64).cpu();
        var diff = (a - e).abs();
        var limit = atol + rtol * e.abs();
        var maxDiff = diff.numel() == 0 ? 0 : diff.max().item<double>();
        var over = (diff > limit).sum().item<long>() + a.isnan().sum().item<long>();
        Assert.True(over == 0, $"{what}: {over} elements outside atol {atol:g3} + rtol {rtol:g3} (max abs diff {maxDiff:g3})");
    }
}
