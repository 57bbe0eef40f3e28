using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MaskBit.Native;

/// <summary>
/// Turns on libtorch's transparent-huge-page allocation for this process (<c>THP_MEM_ALLOC_ENABLE=1</c>): tensors of
/// 2 MiB and more are 2 MiB-aligned and advised <c>MADV_HUGEPAGE</c>, so touching fresh memory faults once per 2 MiB
/// instead of once per 4 KiB page.
/// <para>
/// Why: the tokenizer at 256x256 allocates activations of tens of MiB per layer that glibc serves with fresh
/// mappings, and on a VM the page faults of first touch cost more than the convolutions. It also keeps the sampling
/// loop's resident memory flat: without it, glibc's heap keeps freed activation pages and a long decoding loop creeps
/// up step by step. Both measured in docs/performance.md, "Huge pages".
/// </para>
/// <para>
/// libtorch reads the variable once, at its first allocation, so it is set when this library loads; a value the user
/// set (e.g. <c>THP_MEM_ALLOC_ENABLE=0</c> to compare) is kept. Linux only; the kernel's
/// <c>/sys/kernel/mm/transparent_hugepage/enabled</c> must be <c>always</c> or <c>madvise</c> for it to take effect.
/// </para>
/// </summary>
public static class HugePages
{
    public const string Variable = "THP_MEM_ALLOC_ENABLE";

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    static extern IntPtr GetEnv(string name);

    // A library module initializer is deliberate here (CA2255), as in NativeLibraryFix: it must run before libtorch's
    // first allocation, and loading this library is the only hook every caller passes through.
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void Initialize() => Enable();
#pragma warning restore CA2255

    /// <summary>Sets the variable in the native environment unless it is already set; a no-op off Linux.</summary>
    public static void Enable()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { SetEnv(Variable, "1", overwrite: 0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }

    /// <summary>The variable as libtorch sees it (the native environment; .NET's own copy does not see setenv), or null.</summary>
    public static string? Current()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try { return Marshal.PtrToStringUTF8(GetEnv(Variable)); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { return null; }
    }
}
