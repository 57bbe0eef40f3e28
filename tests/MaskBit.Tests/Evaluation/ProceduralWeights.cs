using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

/// <summary>
/// The golden cases' procedural weights (tests/golden/README.md, case I): with k the entry's position in the listed key order, n its
/// element count and i = 0..n-1, u[i] = (((i*7919 + k*104729) mod 2001) - 1000) / 1000; num_batches_tracked 0;
/// running_var 1 + 0.25(u+1); running_mean 0.1u; 1-dim *weight 1 + 0.1u; other 1-dim 0.05u; >= 2 dims
/// u * sqrt(3) * sqrt(2 / fan_in) with fan_in = n / shape[0]. Entries marked "constant" keep the module's values.
/// </summary>
public static class ProceduralWeights
{
    /// <summary>
    /// Fills <paramref name="module"/> from the case's <c>networks.&lt;network&gt;.keys</c> list; the module's state dict
    /// must hold exactly the listed keys with the listed shapes (the original's module tree).
    /// </summary>
    public static void Fill(nn.Module module, GoldenCase c, string network)
    {
        var entries = c.Json.GetProperty("networks").GetProperty(network).GetProperty("keys").EnumerateArray().ToList();
        var state = module.state_dict();
        var listed = entries.Select(e => e[0].GetString()!).ToList();
        var missing = listed.Where(k => !state.ContainsKey(k)).ToList();
        var extra = state.Keys.Where(k => !listed.Contains(k)).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{c.Name}/{network}: module keys differ from the original's: missing [{string.Join(", ", missing.Take(5))}] extra [{string.Join(", ", extra.Take(5))}]");
        using var _ = no_grad();
        for (int k = 0; k < entries.Count; k++)
        {
            var name = listed[k];
            var shape = entries[k][1].EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var target = state[name];
            Assert.True(target.shape.SequenceEqual(shape), $"{c.Name}/{network}: {name} has shape [{string.Join(", ", target.shape)}], the original's is [{string.Join(", ", shape)}]");
            if (entries[k][3].GetString() == "constant") continue;
            target.copy_(Value(name, shape, k));
        }
    }

    static Tensor Value(string name, long[] shape, long k)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var i = arange(n, dtype: int64);
        var u = ((i * 7919 + k * 104729).remainder(2001) - 1000).to(float64) / 1000.0;
        Tensor v;
        if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal)) v = zeros(n, int64);
        else if (name.EndsWith("running_var", StringComparison.Ordinal)) v = 1 + 0.25 * (u + 1);
        else if (name.EndsWith("running_mean", StringComparison.Ordinal)) v = 0.1 * u;
        else if (shape.Length == 1 && name.EndsWith("weight", StringComparison.Ordinal)) v = 1 + 0.1 * u;
        else if (shape.Length <= 1) v = 0.05 * u;
        else v = u * Math.Sqrt(3) * Math.Sqrt(2.0 / (n / shape[0]));
        return v.reshape(shape);
    }
}
