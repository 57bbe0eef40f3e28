using MaskBit.Cli;

namespace MaskBit.Tests.Cli;

/// <summary>Runs the <c>maskbit</c> command in-process and captures its exit code and output.</summary>
public static class CliRunner
{
    static readonly object Gate = new(); // Console redirection is process-wide

    public static (int code, string stdout, string stderr) Run(params string[] args)
    {
        lock (Gate)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            var (o, e) = (new StringWriter(), new StringWriter());
            Console.SetOut(o);
            Console.SetError(e);
            Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Out = new Spectre.Console.AnsiConsoleOutput(o),
                Ansi = Spectre.Console.AnsiSupport.No,
                Interactive = Spectre.Console.InteractionSupport.No,
            });
            try { return (App.Run(args), o.ToString(), e.ToString()); }
            finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
        }
    }

    /// <summary>Runs the command and asserts it failed the way every failure must: exit code 1 and one stderr line,
    /// <c>maskbit: error: ...</c>, containing <paramref name="expected"/>.</summary>
    public static void AssertFailsWithOneLine(string[] args, string expected)
    {
        var (code, _, stderr) = Run(args);
        Assert.Equal(1, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("maskbit: error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }

    /// <summary>A fresh temporary folder, deleted by the caller's using.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "maskbit-test-" + Guid.NewGuid().ToString("N"));
        public TempDir() => Directory.CreateDirectory(Path);
        public string this[string name] => System.IO.Path.Combine(Path, name);
        public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
    }
}
