namespace MaskBit.Cli;

/// <summary>Turns every failure into one line on stderr and a non-zero exit code.</summary>
public static class CliErrors
{
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (Environment.GetEnvironmentVariable("MASKBIT_DEBUG") != "1")
        {
            var inner = e is TypeInitializationException or System.Reflection.TargetInvocationException && e.InnerException is not null
                ? e.InnerException! : e;
            return Fail(inner.Message);
        }
    }

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"maskbit: error: {OneLine(message)}");
        return 1;
    }

    static string OneLine(string s) => string.Join(' ', s.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
}
