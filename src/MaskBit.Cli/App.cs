using System.CommandLine;
using MaskBit.Cli.Commands;
using MaskBit.Distributed;

namespace MaskBit.Cli;

/// <summary>The <c>maskbit</c> command: one subcommand per user task.</summary>
public static class App
{
    public static RootCommand Build()
    {
        var root = new RootCommand("MaskBit: embedding-free image generation via bit tokens (VQGAN+ tokenizer, LFQ-BERT generator).");
        root.Options.Add(new Option<int?>(ThreadsOption) { Description = "Torch intra-op threads for any command (default: torch's choice, one per core)", Recursive = true });
        root.Subcommands.Add(ReconstructCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(DetokenizeCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(InpaintCommand.Create());
        root.Subcommands.Add(OutpaintCommand.Create());
        root.Subcommands.Add(EditCommand.Create());
        root.Subcommands.Add(BitFlipCommand.Create());
        root.Subcommands.Add(InterpolateCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(TrainTokenizerCommand.Create());
        root.Subcommands.Add(PretokenizeCommand.Create());
        root.Subcommands.Add(TrainGeneratorCommand.Create());
        root.Subcommands.Add(MakeShardsCommand.Create());
        root.Subcommands.Add(FidStatsCommand.Create());
        root.Subcommands.Add(EvalTokenizerCommand.Create());
        root.Subcommands.Add(EvalGeneratorCommand.Create());
        root.Subcommands.Add(EvalMergeCommand.Create());
        root.Subcommands.Add(TrainClassifierCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root;
    }

    const string ThreadsOption = "--threads";

    static readonly System.Text.RegularExpressions.Regex DottedOverride = new(@"^[A-Za-z_]\w*(\.\w+)+=");

    /// <summary>
    /// Accepts the original's OmegaConf command-line style too: <c>config=FILE</c> and bare dotted overrides
    /// (<c>training.per_gpu_batch_size=32</c>) become <c>--config FILE</c> and <c>--set ...</c>; an argument that names
    /// an existing file is left alone.
    /// </summary>
    internal static string[] OriginalStyleOverrides(string[] args)
    {
        var result = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            bool isValue = i > 0 && args[i - 1].StartsWith('-');
            if (isValue || File.Exists(a) || Directory.Exists(a)) result.Add(a);
            else if (a.StartsWith("config=", StringComparison.Ordinal)) result.AddRange(["--config", a["config=".Length..]]);
            else if (DottedOverride.IsMatch(a)) result.AddRange(["--set", a]);
            else result.Add(a);
        }
        return [.. result];
    }

    /// <summary>Runs the command line; every failure ends as one line on stderr and exit code 1 (under an MPI launcher,
    /// the failing rank ends the whole job, whose other ranks would otherwise wait in a collective).</summary>
    public static int Run(string[] args)
    {
        MaskBit.Native.NativeLibraryFix.EnsureLoadable();
        int code = RunCommand(args);
        if (code != 0 && ProcessGroup.LaunchedSize() > 1) ProcessGroup.World.Abort(code);
        return code;
    }

    static int RunCommand(string[] args)
    {
        var parsed = Build().Parse(OriginalStyleOverrides(args));
        // Usage errors (unknown command, missing argument) end like every other error: one line, exit 1.
        if (parsed.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h"))
            return CliErrors.Fail($"{string.Join("; ", parsed.Errors.Select(e => e.Message))} (see maskbit {parsed.CommandResult.Command.Name} --help)");
        return CliErrors.Run(() =>
        {
            var group = ProcessGroup.World; // joins the launcher's job, if any, before any work
            if (parsed.GetValue<int?>(ThreadsOption) is int threads) TorchSharp.torch.set_num_threads(CliChecks.Positive(threads, ThreadsOption));
            else if (group.LocalSize > 1) TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / group.LocalSize)); // the cores, shared
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        });
    }
}
