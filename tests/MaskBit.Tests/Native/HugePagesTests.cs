using MaskBit.Native;
using static TorchSharp.torch;

namespace MaskBit.Tests.Native;

/// <summary>libtorch's huge-page allocation, which the library turns on when it loads.</summary>
public class HugePagesTests
{
    static long AnonHugePagesKiB() =>
        long.Parse(File.ReadLines("/proc/self/smaps_rollup").First(l => l.StartsWith("AnonHugePages:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    [Fact]
    public void TheLibraryTurnsItOnAndLargeTensorsGetHugePages()
    {
        if (!OperatingSystem.IsLinux()) return; // the variable and the kernel feature are Linux's
        _ = typeof(HugePages).Assembly; // the test host loaded the library before this line; its initializer has run
        // The test process did not set the variable, so the library's value is the one libtorch read.
        Assert.Equal("1", HugePages.Current());
        const string thp = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!File.Exists(thp) || File.ReadAllText(thp).Contains("[never]")) return; // the kernel offers none: nothing to see
        long before = AnonHugePagesKiB();
        using var big = ones(64L << 20); // 256 MiB, touched
        long after = AnonHugePagesKiB();
        Assert.True(after - before >= 128 << 10, $"AnonHugePages grew {after - before} KiB for a 256 MiB tensor: expected >= 128 MiB");
    }
}
