using System.CommandLine;
using MaskBit.Evaluation;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit eval-merge OUT</c>: combines the shards of an <c>eval-generator</c> run (every <c>state-&lt;i&gt;of&lt;n&gt;.npz</c>
/// finished) exactly: the float64 Inception sums add, the ADM batch is written from all samples in order, and gFID / IS
/// are printed as if one process had done the work.
/// </summary>
public static class EvalMergeCommand
{
    public static Command Create()
    {
        var output = new Argument<DirectoryInfo>("output") { Description = "The -o folder every shard wrote to" };
        var refStats = new Option<FileInfo?>("--ref-stats") { Description = "Reference statistics (.npz with mu, sigma) for gFID" };
        var cmd = new Command("eval-merge", "Combine the shards of an eval-generator run: ADM sample batch, gFID and IS.");
        cmd.Arguments.Add(output);
        cmd.Options.Add(refStats);
        cmd.SetAction(r =>
        {
            using var reference = r.GetValue(refStats) is { } rs ? FidStatistics.Load(rs.FullName) : null;
            EvalGeneratorCommand.Finish(r.GetValue(output)!.FullName, null, reference, null);
            return 0;
        });
        return cmd;
    }
}
