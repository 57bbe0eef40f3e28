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
    public static long PeakResidentMiB() => Status("VmHWM:", () => Process.GetCurrentProcess().PeakWorkingSet64);

    /// <summary>The process's resident set now, in MiB (Linux VmRSS).</summary>
    public static long ResidentMiB() => Status("VmRSS:", () => { using var p = Process.GetCurrentProcess(); return p.WorkingSet64; });

    static long Status(string field, Func<long> fallbackBytes)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return fallbackBytes() >> 20;
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) >> 10;
    }
}
