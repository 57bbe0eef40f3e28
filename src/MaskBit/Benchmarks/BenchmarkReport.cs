using System.Diagnostics;

namespace MaskBit.Benchmarks;

/// <summary>What a benchmark measured: a table for people (<paramref name="Columns"/>, <paramref name="Rows"/>) and,
/// for scripts, the same figures under stable keys (<paramref name="Json"/>; null when the benchmark has none).</summary>
public sealed record BenchmarkReport(IReadOnlyList<string> Columns, IReadOnlyList<string[]> Rows, IReadOnlyDictionary<string, object>? Json = null)
{
    /// <summary>A two-column (measure, value) report.</summary>
    public static BenchmarkReport Of(string valueColumn, IEnumerable<(string Measure, string Value)> rows, IReadOnlyDictionary<string, object>? json = null) =>
        new(["measure", valueColumn], rows.Select(r => new[] { r.Measure, r.Value }).ToList(), json);
}

/// <summary>Timing helpers the benchmarks share.</summary>
static class Measure
{
    public static double Seconds(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }

    public static double Seconds<T>(Func<T> work, out T result)
    {
        var sw = Stopwatch.StartNew();
        result = work();
        return sw.Elapsed.TotalSeconds;
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
