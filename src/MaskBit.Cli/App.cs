using System.CommandLine;
using MaskBit.Cli.Commands;

namespace MaskBit.Cli;

/// <summary>The <c>maskbit</c> command: one subcommand per user task.</summary>
public static class App
{
    public static RootCommand Build()
    {
        var root = new RootCommand("MaskBit: embedding-free image generation via bit tokens (VQGAN+ tokenizer, LFQ-BERT generator).");
        root.Subcommands.Add(ReconstructCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(DetokenizeCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root;
    }

    /// <summary>Runs the command line; every failure ends as one line on stderr and exit code 1.</summary>
    public static int Run(string[] args)
    {
        MaskBit.Interop.NativeLibraryFix.EnsureLoadable();
        var parsed = Build().Parse(args);
        // Usage errors (unknown command, missing argument) end like every other error: one line, exit 1.
        if (parsed.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h"))
            return CliErrors.Fail($"{string.Join("; ", parsed.Errors.Select(e => e.Message))} (see maskbit {parsed.CommandResult.Command.Name} --help)");
        return CliErrors.Run(() => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }
}
