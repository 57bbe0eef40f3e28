using System.Diagnostics;

namespace MaskBit;

/// <summary>What a measurement ran on, for benchmark tables and model cards (machines of one kind differ by 30% and
/// more, so every figure names its CPU), and the process's peak memory.</summary>
public static class MachineInfo
{
    /// <summary>The CPU's model name (/proc/cpuinfo), else the architecture.</summary>
    public static string CpuModel() =>
        File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } line
            ? line[(line.IndexOf(':') + 1)..].Trim() : System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();

    /// <summary>"CPU model, N cores", as cards and READMEs name a machine.</summary>
    public static string Describe() => $"{CpuModel()}, {Environment.ProcessorCount} cores";

    /// <summary>The process's resident-set high-water mark in MiB (Linux VmHWM), which includes libtorch's allocations.</summary>
    public static long PeakResidentMiB()
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return Process.GetCurrentProcess().PeakWorkingSet64 >> 20;
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) >> 10;
    }
}
