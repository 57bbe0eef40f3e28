using MaskBit.Native;
using static TorchSharp.torch;

namespace MaskBit.Tests.Native;

public class NativeLibraryFixTests
{
    [Fact]
    public void TorchIsUsableAfterTheFix()
    {
        using var t = ones(3) * 2;
        Assert.Equal(6f, t.sum().item<float>());
    }

    [Fact]
    public void PatchMarksOnlyTheMissingVersionWeakAndIsIdempotent()
    {
        var so = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(so), so);
        var copy = Path.Combine(Path.GetTempPath(), $"libts-{Guid.NewGuid():N}.so");
        File.Copy(so, copy);
        try
        {
            var bytes = File.ReadAllBytes(copy);
            int off = NativeLibraryFix.FindRequirementFlagsOffset(bytes, "GLIBCXX_3.4.32");
            Assert.True(off > 0);
            bytes[off] &= unchecked((byte)~2); // un-weak it, as in the pristine package
            File.WriteAllBytes(copy, bytes);
            Assert.True(NativeLibraryFix.PatchFile(copy));
            var patched = File.ReadAllBytes(copy);
            Assert.Equal(2, patched[off] & 2);
            Assert.Equal(bytes.Length, patched.Length);
            Assert.Equal(1, bytes.Zip(patched).Count(p => p.First != p.Second));
            Assert.False(NativeLibraryFix.PatchFile(copy)); // second run changes nothing
        }
        finally { File.Delete(copy); }
    }
}
