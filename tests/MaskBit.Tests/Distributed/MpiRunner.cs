using System.Diagnostics;

namespace MaskBit.Tests.Distributed;

/// <summary>
/// Runs the <c>maskbit</c> executable the test build carries, as N ranks under Open MPI's <c>mpirun</c> or as one plain
/// process, and captures its exit code and output. The ranks share the machine's cores (<c>--bind-to none</c>); root
/// may launch (CI runs as root); <c>--oversubscribe</c> lets 2 ranks start on a 1-core machine.
/// </summary>
public static class MpiRunner
{
    public static string? Mpirun { get; } = Environment.GetEnvironmentVariable("PATH")?.Split(':')
        .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);

    static string Maskbit => Path.Combine(AppContext.BaseDirectory, "MaskBit.Cli");

    /// <summary><paramref name="ranks"/> processes of <c>maskbit args</c>; <paramref name="mca"/>: extra
    /// <c>--mca</c> pairs (e.g. <c>btl tcp,self</c>, the path between machines).</summary>
    public static (int Code, string Stdout, string Stderr) Run(int ranks, string[] args, string[]? mca = null, IDictionary<string, string>? env = null)
    {
        var launcher = Mpirun ?? throw new InvalidOperationException("mpirun not found");
        string[] mpirunArgs = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", .. (mca ?? []).Chunk(2).SelectMany(p => new[] { "--mca", p[0], p[1] }), "-np", ranks.ToString(), Maskbit, .. args];
        return Start(launcher, mpirunArgs, env);
    }

    /// <summary>Launches the ranks and kills the whole job (SIGKILL, every process) as soon as
    /// <paramref name="killWhen"/> holds; true when it was killed, false when it ended first.</summary>
    public static bool RunAndKill(int ranks, string[] args, Func<bool> killWhen)
    {
        var launcher = Mpirun ?? throw new InvalidOperationException("mpirun not found");
        var start = new ProcessStartInfo(launcher) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", ranks.ToString(), Maskbit, .. args]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(5))
        {
            if (killWhen())
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return true;
            }
            Thread.Sleep(20);
        }
        return false;
    }

    /// <summary>One plain process (no launcher): the reference the ranks are compared with.</summary>
    public static (int Code, string Stdout, string Stderr) RunSingle(string[] args, IDictionary<string, string>? env = null) => Start(Maskbit, args, env);

    static (int, string, string) Start(string file, string[] args, IDictionary<string, string>? env)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) { process.Kill(entireProcessTree: true); Assert.Fail($"{file} {string.Join(' ', args)}: timed out"); }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A test that launches ranks with <c>mpirun</c> (category <c>Distributed</c>); skipped, saying why, on a
/// machine without Open MPI (<c>.ci/run</c> installs it: <c>apt-get install openmpi-bin libopenmpi-dev</c>).</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (MpiRunner.Mpirun is null) Skip = "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)";
    }
}
