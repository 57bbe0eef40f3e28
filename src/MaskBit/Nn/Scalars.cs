using System.Collections.Concurrent;

namespace MaskBit.Nn;

/// <summary>
/// Scalars that stay alive while libtorch reads them.
/// <para>
/// TorchSharp 0.107 reads <c>Scalar.Handle</c> and passes it to native code without <c>GC.KeepAlive</c>. A Scalar made
/// by an implicit conversion (<c>t * 0.5</c>, <c>t.gt(0)</c>, <c>t.pow(2)</c>, and TorchSharp's own <c>a + b</c>,
/// which passes an implicit <c>alpha = 1</c>) is unreachable from the moment its handle is read, so a garbage
/// collection on any thread can run its finalizer and free it while libtorch still reads it: "Unknown scalar type",
/// "Expected false to be true ... toFloat", or a segfault, at random in long runs and multi-threaded hosts.
/// </para>
/// <para>
/// The library therefore never converts a number to a Scalar implicitly (a test scans the compiled library for it).
/// A constant of the code comes from <see cref="Const(double)"/> (one Scalar per value, rooted here for the life of
/// the process); a value computed at run time (a learning rate) is <c>using var s = value.ToScalar();</c>, disposed
/// after the call. Tensor sums take <see cref="One"/> as their alpha: <c>a.add(b, One)</c>. Code that uses TorchSharp
/// beside this library needs the same care, and every intermediate tensor in a dispose scope or a <c>using</c>.
/// </para>
/// </summary>
public static class Scalars
{
    /// <summary>More distinct constants than any code has: past it, a run-time value was passed by mistake.</summary>
    public const int MaxConstants = 65_536;

    static readonly ConcurrentDictionary<long, Scalar> Doubles = new(), Longs = new();

    /// <summary>The alpha of a plain tensor sum: <c>a.add(b, One)</c> is <c>a + b</c>.</summary>
    public static Scalar One { get; } = Const(1L);

    /// <summary>The Scalar of a floating-point constant (a float is widened exactly, as libtorch does).</summary>
    public static Scalar Const(double value)
    {
        long key = BitConverter.DoubleToInt64Bits(value);
        return Doubles.TryGetValue(key, out var s) ? s : Keep(Doubles, key, value.ToScalar());
    }

    /// <summary>The Scalar of an integer constant (an int is widened, as libtorch stores every integer Scalar).</summary>
    public static Scalar Const(long value) => Longs.TryGetValue(value, out var s) ? s : Keep(Longs, value, value.ToScalar());

    static Scalar Keep(ConcurrentDictionary<long, Scalar> cache, long key, Scalar made)
    {
        if (cache.Count >= MaxConstants)
        {
            made.Dispose();
            throw new InvalidOperationException($"Scalars.Const holds {MaxConstants} values: pass a value computed at run time as 'using var s = value.ToScalar()'");
        }
        // Two threads may make the same value at once: the one not kept is disposed at once, never handed out.
        var kept = cache.GetOrAdd(key, made);
        if (!ReferenceEquals(kept, made)) made.Dispose();
        return kept;
    }
}
