using MaskBit.Interop;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MaskBit.Tests.Interop;

/// <summary>
/// Thousands of seeded mutations of real checkpoint files (truncations, flipped bits, replaced bytes, filled runs,
/// inserted and deleted bytes) through every reader. Each read must end in one of two ways: the contents load unchanged
/// (bit for bit, same keys, order, dtypes and shapes as the intact file), or one one-line <see cref="CheckpointException"/>.
/// Any other exception, a crash or a read that does not finish in time fails the test.
/// The zip format checks a CRC-32 per entry, so a change that loads silently fails the test too. The legacy torch format
/// and safetensors carry no checksum: a changed tensor byte (or a renamed key, or a dtype swapped for one of the same
/// size) cannot be told from the original there, so such silent changes are counted and printed, not failed on.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class CheckpointFuzzTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("maskbit-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    const int Mutations = 1000;
    static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(20);

    /// <summary>A loaded state dict reduced to what "unchanged" compares: keys in order, dtypes, shapes, raw bytes.</summary>
    sealed record Entry(string Key, ScalarType DType, long[] Shape, byte[] Bytes);

    enum Outcome { Unchanged, Rejected, ValuesChanged, StructureChanged }

    [Theory]
    [InlineData("tests/golden/generator_lfqbert_small/model.bin", false, true, 1)]
    [InlineData("tests/golden/mlm_loss/tensors.pt", false, true, 2)]
    [InlineData("tests/fixtures/interop/views_legacy.pt", false, false, 3)]
    [InlineData("tests/golden/generator_lfqbert_small/model.bin", true, false, 4)]
    public async Task MutatedCheckpoint_LoadsUnchangedOrFailsWithOneLine(string fixture, bool asSafeTensors, bool checksummed, int seed)
    {
        var source = Path.Combine(Golden.RepoRoot, fixture);
        var original = Path.Combine(_dir, asSafeTensors ? "original.safetensors" : "original" + Path.GetExtension(fixture));
        if (asSafeTensors)
        {
            using var scope = NewDisposeScope();
            Checkpoint.WriteStateDict(original, Checkpoint.ReadStateDict(source));
        }
        else File.Copy(source, original);
        var bytes = File.ReadAllBytes(original);
        var expected = Load(original);
        var target = Path.Combine(_dir, "mutated" + Path.GetExtension(original));

        var rng = new Random(seed);
        var counts = new Dictionary<(string Kind, Outcome Outcome), int>();
        var examples = new SortedDictionary<string, string>(StringComparer.Ordinal); // kind -> first rejection message
        var failures = new List<string>();
        for (int i = 0; i < Mutations; i++)
        {
            var (kind, what, mutated) = Mutate(bytes, rng);
            File.WriteAllBytes(target, mutated);
            var read = Task.Run(() => Load(target));
            // waits for the read or the timeout, whichever comes first; the read's own exception is judged below
            await ((Task)read).WaitAsync(ReadTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            if (!read.IsCompleted) Assert.Fail($"{fixture} #{i} ({what}): read did not finish within {ReadTimeout.TotalSeconds} s");
            var outcome = Judge(read, expected, target, out var problem);
            if (outcome == Outcome.Rejected) examples.TryAdd(kind, $"{what}: {read.Exception!.InnerException!.Message}");
            if (problem is null && (!checksummed || outcome is Outcome.Unchanged or Outcome.Rejected))
                counts[(kind, outcome)] = counts.GetValueOrDefault((kind, outcome)) + 1;
            else failures.Add($"#{i} ({what}): {problem ?? $"loaded with {outcome} and no error"}");
        }

        output.WriteLine($"{fixture}{(asSafeTensors ? " as safetensors" : "")}: {Mutations} mutations of {bytes.Length} bytes");
        foreach (var outcome in Enum.GetValues<Outcome>())
        {
            var byKind = counts.Where(c => c.Key.Outcome == outcome).OrderBy(c => c.Key.Kind).Select(c => $"{c.Key.Kind} {c.Value}");
            output.WriteLine($"  {outcome}: {counts.Where(c => c.Key.Outcome == outcome).Sum(c => c.Value)} ({string.Join(", ", byKind)})");
        }
        foreach (var (kind, message) in examples) output.WriteLine($"  e.g. {kind}, {message}");
        Assert.True(failures.Count == 0, $"{fixture}: {failures.Count} bad outcomes, e.g.\n{string.Join("\n", failures.Take(10))}");
    }

    static List<Entry> Load(string path)
    {
        using var scope = NewDisposeScope();
        return Checkpoint.ReadStateDict(path).Select(kv => new Entry(kv.Key, kv.Value.dtype, kv.Value.shape, kv.Value.contiguous().bytes.ToArray())).ToList();
    }

    /// <summary>What a finished read amounts to; <paramref name="problem"/> is set for an exception that is not a
    /// one-line <see cref="CheckpointException"/> naming the file.</summary>
    static Outcome Judge(Task<List<Entry>> read, List<Entry> expected, string path, out string? problem)
    {
        problem = null;
        if (read.Exception?.InnerException is { } e)
        {
            if (e is not CheckpointException || !e.Message.StartsWith(path + ": ", StringComparison.Ordinal) || e.Message.Contains('\n'))
                problem = $"{e.GetType().Name}: {e.Message}";
            return Outcome.Rejected;
        }
        var got = read.Result;
        bool sameStructure = got.Count == expected.Count && got.Zip(expected).All(p =>
            p.First.Key == p.Second.Key && p.First.DType == p.Second.DType && p.First.Shape.SequenceEqual(p.Second.Shape));
        if (!sameStructure) return Outcome.StructureChanged;
        return got.Zip(expected).All(p => p.First.Bytes.AsSpan().SequenceEqual(p.Second.Bytes)) ? Outcome.Unchanged : Outcome.ValuesChanged;
    }

    /// <summary>
    /// One random mutation. Half of them land anywhere in the file (mostly tensor data), half in its first or last
    /// 4 KiB, where the headers, the pickle and the zip directory live, so the parsers see many damaged structures.
    /// </summary>
    static (string Kind, string What, byte[] Bytes) Mutate(byte[] original, Random rng)
    {
        int n = original.Length;
        int zone = Math.Min(4096, n);
        int at = rng.Next(2) == 0 ? rng.Next(n) : rng.Next(2) == 0 ? rng.Next(zone) : n - 1 - rng.Next(zone);
        var b = (byte[])original.Clone();
        switch (rng.Next(6))
        {
            case 0:
                return ("truncate", $"truncate to {at} bytes", original[..at]);
            case 1:
                int bit = rng.Next(8);
                b[at] ^= (byte)(1 << bit);
                return ("flip-bit", $"flip bit {bit} of byte {at}", b);
            case 2:
                byte value = (byte)(original[at] ^ rng.Next(1, 256));
                b[at] = value;
                return ("set-byte", $"set byte {at} to 0x{value:x2}", b);
            case 3:
                int length = Math.Min(rng.Next(2, 65), n - at);
                byte fill = rng.Next(3) switch { 0 => 0x00, 1 => 0xFF, _ => (byte)rng.Next(256) };
                b.AsSpan(at, length).Fill(fill);
                return ("fill-run", $"fill {length} bytes at {at} with 0x{fill:x2}", b);
            case 4:
                var inserted = new byte[rng.Next(1, 17)];
                rng.NextBytes(inserted);
                return ("insert", $"insert {Convert.ToHexString(inserted)} at {at}", [.. original[..at], .. inserted, .. original[at..]]);
            default:
                int count = Math.Min(rng.Next(1, 17), n - at);
                return ("delete", $"delete {count} bytes at {at}", [.. original[..at], .. original[(at + count)..]]);
        }
    }
}
