using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MaskBit.Native;

/// <summary>
/// Fully connected layers through an external CBLAS <c>sgemm</c> (OpenBLAS by default) when that is faster than
/// libtorch's own: <c>y = x W^T + b</c> for fp32 CPU tensors outside autograd, else <c>F.linear</c>.
/// <para>
/// Why: the generator is almost all matrix multiplies of [2 x 257, 1024]-sized activations, on which libtorch's bundled
/// BLAS is slower than OpenBLAS (Debian's <c>libopenblas0</c>, the BLAS under Debian's PyTorch); measured in
/// docs/performance.md, "Why an external BLAS". Training (autograd) and other devices and dtypes always take libtorch's path.
/// </para>
/// <para>
/// Which library: the environment variable <c>MASKBIT_BLAS</c> names a shared library that exports
/// <c>cblas_sgemm</c> (a path or a name the loader finds, e.g. MKL's or BLIS's); <c>torch</c> turns the external
/// path off; unset, Debian's OpenMP build of OpenBLAS, else the system's <c>libopenblas.so.0</c>, when installed, and
/// libtorch otherwise. A name
/// that is set but does not load is an error (the first linear layer throws), not a silent fallback.
/// </para>
/// </summary>
public static unsafe class Blas
{
    public const string Variable = "MASKBIT_BLAS";

    // CBLAS enums: CblasRowMajor, CblasNoTrans, CblasTrans.
    const int RowMajor = 101, NoTrans = 111, Trans = 112;

    /// <summary>
    /// Products smaller than this (rows x out x in multiply-adds) stay with libtorch: there the external library's
    /// threads cost more than its kernels gain (docs/performance.md, "Why an external BLAS"). Every large layer of the
    /// official generator (attention in/out, MLP) is above it; the bundled model's layers are all below.
    /// </summary>
    internal const double MinMultiplyAdds = 1 << 28;

    static readonly Lazy<Library?> Loaded = new(() => Load(Environment.GetEnvironmentVariable(Variable)));
    static int _threads;

    // Exports of the loaded library: cblas_sgemm, and openblas_set_num_threads where it has one (else zero).
    internal sealed record Library(string Path, IntPtr Sgemm, IntPtr SetThreads);

    /// <summary>"libtorch", or the external library's name as loaded (e.g. <c>libopenblas.so.0</c>); for benchmark tables.</summary>
    public static string Backend => Loaded.Value?.Path ?? "libtorch";

    /// <summary>
    /// <c>F.linear(x, weight, bias)</c> (x: [..., in], weight: [out, in], bias: [out] -> [..., out]) computed by the
    /// external sgemm when one is loaded, no gradient is needed and the product is large (<see cref="MinMultiplyAdds"/>);
    /// results agree with libtorch's to float32 rounding (the summation order differs).
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        var lib = Loaded.Value;
        if (lib is null || !Eligible(x, weight, bias)) return F.linear(x, weight, bias);
        using var scope = NewDisposeScope();
        long n = weight.shape[0], k = weight.shape[1], m = x.numel() / k;
        var a = x.contiguous();
        var w = weight.contiguous();
        var shape = x.shape.ToArray();
        shape[^1] = n;
        // With a bias the product accumulates onto it (beta = 1), as addmm does.
        var y = bias is null ? torch.empty(shape, dtype: ScalarType.Float32) : bias.expand(shape).contiguous();
        SyncThreads(lib);
        // cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc): C = A B^T (+ C).
        var sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)lib.Sgemm;
        sgemm(RowMajor, NoTrans, Trans, (int)m, (int)n, (int)k, 1f, Data(a), (int)k, Data(w), (int)k, bias is null ? 0f : 1f, Data(y), (int)n);
        return y.MoveToOuterDisposeScope();
    }

    static bool Eligible(Tensor x, Tensor weight, Tensor? bias)
    {
        bool cpuFloat(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32;
        if (!cpuFloat(x) || !cpuFloat(weight) || (bias is not null && !cpuFloat(bias))) return false;
        if (weight.dim() != 2 || x.dim() < 1 || x.shape[^1] != weight.shape[1] || x.numel() == 0 || weight.numel() == 0) return false;
        if (x.numel() / weight.shape[1] > int.MaxValue || weight.shape[0] > int.MaxValue || weight.shape[1] > int.MaxValue) return false;
        if ((double)x.numel() * weight.shape[0] < MinMultiplyAdds) return false;
        // Outside autograd only: the external call records nothing for backward.
        return !torch.is_grad_enabled() || !(x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false));
    }

    // A contiguous CPU tensor's first element (its memory is native, so it does not move).
    static float* Data(Tensor t) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    // The external library uses as many threads as libtorch does (--threads, torch.set_num_threads).
    static void SyncThreads(Library lib)
    {
        int threads = torch.get_num_threads();
        if (threads == _threads || lib.SetThreads == IntPtr.Zero) return;
        ((delegate* unmanaged<int, void>)lib.SetThreads)(threads);
        _threads = threads;
    }

    internal static Library? Load(string? setting)
    {
        if (string.Equals(setting, "torch", StringComparison.OrdinalIgnoreCase)) return null;
        var names = string.IsNullOrEmpty(setting) ? DefaultNames() : [setting];
        foreach (var name in names)
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var sgemm))
            {
                if (string.IsNullOrEmpty(setting)) continue;
                throw new InvalidOperationException($"{Variable}={setting}: the library exports no cblas_sgemm");
            }
            // OpenBLAS's own thread setting; other libraries follow their usual variables (OMP_NUM_THREADS, ...).
            NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var setThreads);
            return new Library(name, sgemm, setThreads);
        }
        if (!string.IsNullOrEmpty(setting))
            throw new InvalidOperationException($"{Variable}={setting}: cannot load that library (expected a path or name of a CBLAS library, or 'torch')");
        return null;
    }

    // Debian's OpenMP build of OpenBLAS first, whichever variant the system's libopenblas.so.0 points to: the pthread
    // build's worker threads spin while libtorch's OpenMP threads run the layers in between, which made the generator
    // slower than libtorch alone (docs/performance.md, "Why an external BLAS").
    static string[] DefaultNames()
    {
        if (OperatingSystem.IsMacOS()) return ["libopenblas.dylib", "libopenblas.0.dylib"];
        if (!OperatingSystem.IsLinux()) return ["libopenblas.dll"];
        var triplet = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        return [$"/usr/lib/{triplet}/openblas-openmp/libopenblas.so.0", "libopenblas.so.0", "libopenblas.so"];
    }
}
