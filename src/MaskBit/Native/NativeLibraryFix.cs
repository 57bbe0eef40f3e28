using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MaskBit.Native;

/// <summary>
/// Makes TorchSharp's native bridge loadable on Debian 12.
/// <para>
/// <c>libLibTorchSharp.so</c> (TorchSharp 0.107) records a requirement on the symbol version
/// <c>GLIBCXX_3.4.32</c> (GCC 13's libstdc++); Debian 12 ships libstdc++ only up to 3.4.30, so the
/// dynamic loader refuses the library and every torch call fails with a TypeInitializationException.
/// The only symbol under that version is <c>std::ios_base_library_init</c>, a marker GCC 13's
/// iostream header emits and nothing calls. Marking that one version requirement WEAK
/// (<c>VER_FLG_WEAK</c> in its Vernaux entry of <c>.gnu.version_r</c>) makes glibc accept the library.
/// </para>
/// <para>
/// The build copies the pristine library into every output folder, so the fix runs at start-up on the
/// copy that sits next to libtorch (its <c>$ORIGIN</c> RUNPATH must still find libc10/libtorch_cpu).
/// It is idempotent, atomic (temp file + rename) and a no-op where the library already loads
/// (newer libstdc++, or already patched).
/// </para>
/// </summary>
public static class NativeLibraryFix
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;
    const string MissingVersion = "GLIBCXX_3.4.32";

    static readonly object Gate = new();
    static bool _done;

    // A library module initializer is deliberate here (CA2255): the fix must run before any torch call a user of the
    // library makes, and the library's first use is the only hook every caller passes through.
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void Initialize() => EnsureLoadable();
#pragma warning restore CA2255

    /// <summary>Call before the first torch call (the library does so itself when it is loaded).</summary>
    public static void EnsureLoadable()
    {
        lock (Gate)
        {
            if (_done) return;
            _done = true;
            if (!OperatingSystem.IsLinux()) return;
            foreach (var path in Candidates())
            {
                if (!File.Exists(path)) continue;
                if (NativeLibrary.TryLoad(path, out _)) return;
                if (PatchFile(path)) return;
            }
        }
    }

    static IEnumerable<string> Candidates()
    {
        var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        var bases = new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(NativeLibraryFix).Assembly.Location) ?? "" };
        foreach (var b in bases.Where(b => b.Length > 0).Distinct())
        {
            yield return Path.Combine(b, "runtimes", rid, "native", "libLibTorchSharp.so");
            yield return Path.Combine(b, "libLibTorchSharp.so");
        }
    }

    /// <summary>Marks the GLIBCXX_3.4.32 requirement weak. Returns true when the file was changed.</summary>
    public static bool PatchFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var offset = FindRequirementFlagsOffset(bytes, MissingVersion);
        if (offset < 0) return false;
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset));
        if ((flags & VerFlgWeak) != 0) return false;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(offset), (ushort)(flags | VerFlgWeak));
        var tmp = path + ".weak-" + Environment.ProcessId + ".tmp";
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(tmp);
            throw new InvalidOperationException(
                $"cannot patch {path} (needs write access once to mark {MissingVersion} weak): {e.Message}", e);
        }
        return true;
    }

    /// <summary>File offset of <c>vna_flags</c> of the Vernaux entry naming <paramref name="version"/>, or -1.</summary>
    internal static int FindRequirementFlagsOffset(byte[] elf, string version)
    {
        // ELF64 little-endian only (x86-64 / arm64 Linux).
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
            || elf[4] != 2 || elf[5] != 1) return -1;
        var span = elf.AsSpan();
        long shoff = BinaryPrimitives.ReadInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        for (int i = 0; i < shnum; i++)
        {
            var sh = span[(int)(shoff + i * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            long secOff = BinaryPrimitives.ReadInt64LittleEndian(sh[0x18..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x2C..]);
            long strOff = BinaryPrimitives.ReadInt64LittleEndian(span[(int)(shoff + link * shentsize + 0x18)..]);
            long vn = secOff;
            for (int n = 0; n < count; n++)
            {
                int cnt = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(vn + 2)..]);
                long aux = vn + BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(vn + 8)..]);
                for (int a = 0; a < cnt; a++)
                {
                    uint name = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 8)..]);
                    if (ReadCString(span, (int)(strOff + name)) == version) return (int)(aux + 4);
                    aux += BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 12)..]);
                }
                vn += BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(vn + 12)..]);
            }
        }
        return -1;
    }

    static string ReadCString(ReadOnlySpan<byte> s, int start)
    {
        int end = s[start..].IndexOf((byte)0);
        return System.Text.Encoding.ASCII.GetString(s.Slice(start, end));
    }
}
