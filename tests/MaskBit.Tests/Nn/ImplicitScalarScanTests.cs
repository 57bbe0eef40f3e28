using MaskBit.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Nn;

/// <summary>
/// The guard that keeps the library free of implicit Scalars (why: <see cref="Scalars"/>): the compiled
/// <c>MaskBit.dll</c> is scanned for calls that make a Scalar no one keeps alive through the native call.
/// </summary>
public class ImplicitScalarScanTests
{
    const string Implicit = "TorchSharp.Scalar::op_Implicit(";
    const string ToScalar = "TorchSharp.ScalarExtensionMethods::ToScalar(";
    // A using statement disposes through the interface.
    static readonly string[] Disposals = ["TorchSharp.Scalar::Dispose()", "System.IDisposable::Dispose()"];

    /// <summary>
    /// TorchSharp's methods that convert a number to a Scalar implicitly, directly or through the methods they call
    /// (<c>Tensor.add(Tensor)</c> passes an implicit alpha of 1, <c>t * 0.5</c> converts inside the operator), and the
    /// constructors of its modules whose <c>forward</c> does (BatchNorm's batch counter, LeakyReLU's slope), since a
    /// module is called through its base class where the scan cannot follow.
    /// </summary>
    static readonly Lazy<HashSet<string>> TorchSharpHazards = new(() =>
    {
        var graph = new IlCallGraph(typeof(Scalar).Assembly.Location);
        var direct = graph.Calls.Where(kv => !kv.Key.StartsWith(Implicit, StringComparison.Ordinal) && kv.Value.Any(c => c.StartsWith(Implicit, StringComparison.Ordinal)))
            .Select(kv => kv.Key);
        var reached = graph.Reaching(direct);
        var modules = reached.Where(m => IlCallGraph.NameOf(m) == "forward").Select(IlCallGraph.TypeOf).ToHashSet();
        return graph.Reaching(reached.Concat(graph.Calls.Keys.Where(m => IlCallGraph.NameOf(m) == ".ctor" && modules.Contains(IlCallGraph.TypeOf(m)))));
    });

    /// <summary>Each method of the assembly that makes an unkept Scalar, with the calls that do.</summary>
    static List<string> Offenders(string assemblyPath)
    {
        var hazards = TorchSharpHazards.Value;
        var found = new List<string>();
        foreach (var (method, calls) in new IlCallGraph(assemblyPath).Calls)
        {
            // ToScalar is the explicit conversion: allowed where the method disposes a Scalar (using var s = x.ToScalar()),
            // and in the helper that keeps its Scalars for the life of the process.
            bool disposes = calls.Any(Disposals.Contains) || IlCallGraph.TypeOf(method) == typeof(Scalars).FullName;
            var bad = calls.Where(c => c.StartsWith(Implicit, StringComparison.Ordinal) || hazards.Contains(c)
                || (!disposes && c.StartsWith(ToScalar, StringComparison.Ordinal))).Distinct().ToList();
            if (bad.Count > 0) found.Add($"{method} calls {string.Join(", ", bad)}");
        }
        return found;
    }

    [Fact]
    public void TheLibraryConvertsNoNumberToAScalarImplicitly()
    {
        var offenders = Offenders(typeof(Scalars).Assembly.Location);
        Assert.True(offenders.Count == 0, $"{offenders.Count} methods of MaskBit.dll make a Scalar no one keeps alive (use Const, One or 'using var s = x.ToScalar()'):\n"
            + string.Join("\n", offenders));
    }

    [Fact]
    public void TheScanFindsEachKindOfImplicitScalar()
    {
        var offenders = Offenders(typeof(ImplicitScalarScanTests).Assembly.Location);
        string Of(string name) => Assert.Single(offenders, o => o.StartsWith($"{typeof(Offending).FullName!.Replace('+', '/')}::{name}("));
        Assert.Contains(Implicit + "Double)", Of(nameof(Offending.ImplicitArgument)));
        Assert.Contains("op_Multiply(TorchSharp.torch/Tensor,Double)", Of(nameof(Offending.Operator)));
        Assert.Contains("add(TorchSharp.torch/Tensor)", Of(nameof(Offending.TensorSum)));
        Assert.Contains("torch/nn::LeakyReLU(", Of(nameof(Offending.TorchSharpModule)));
        Assert.Contains(ToScalar, Of(nameof(Offending.UndisposedToScalar)));
        Assert.DoesNotContain(offenders, o => o.Contains(nameof(Offending.Kept)));
    }

    [Fact]
    public void ConstGivesOneRootedScalarPerValueOfTheLiteralsType()
    {
        Assert.Same(Scalars.Const(0.25), Scalars.Const(0.25));
        Assert.Same(Scalars.One, Scalars.Const(1));
        Assert.NotSame(Scalars.Const(1), Scalars.Const(1.0));
        Assert.NotSame(Scalars.Const(0.0), Scalars.Const(-0.0));
        Assert.Equal(ScalarType.Int64, Scalars.Const(3).Type);
        Assert.Equal(ScalarType.Float64, Scalars.Const(3f).Type);
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 1f, 2f });
        Assert.Equal(new[] { 1.5f, 3f }, x.mul(Scalars.Const(1.5)).data<float>().ToArray());
        Assert.Equal(ScalarType.Int64, arange(Scalars.Const(0), Scalars.Const(3), Scalars.One).dtype);
    }

    [Fact]
    public void ConstIsSafeToShareAcrossThreads()
    {
        var values = Enumerable.Range(0, 64).Select(i => 1000.5 + i).ToArray();
        var seen = new Scalar[8][];
        Parallel.For(0, 8, t => seen[t] = values.Select(Scalars.Const).ToArray());
        for (int t = 1; t < 8; t++)
            for (int i = 0; i < values.Length; i++) Assert.Same(seen[0][i], seen[t][i]);
    }

    /// <summary>One method per kind of hazard the scan must find, and one it must let pass (never run).</summary>
    static class Offending
    {
        public static Tensor ImplicitArgument(Tensor t) => t.gt(0.5);
        public static Tensor Operator(Tensor t) => t * 0.5;
        public static Tensor TensorSum(Tensor a, Tensor b) => a.add(b);
        public static nn.Module TorchSharpModule() => nn.LeakyReLU(0.2);
        public static Tensor UndisposedToScalar(Tensor t, double v) => t.mul(v.ToScalar());

        public static Tensor Kept(Tensor a, Tensor b, double v)
        {
            using var s = v.ToScalar();
            return a.add(b, Scalars.One).mul(s).gt(Scalars.Const(0.5));
        }
    }
}
