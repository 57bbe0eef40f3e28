using System.CommandLine;
using MaskBit.Evaluation;
using MaskBit.Networks;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit eval-merge OUT</c>: combines the shards of an <c>eval-generator</c> run (every <c>state-&lt;i&gt;of&lt;n&gt;.npz</c>
/// finished) exactly (<see cref="GeneratorEvaluationRun.Merge"/>): the float64 Inception sums add, the ADM batch is
/// written from all samples in order, and gFID / IS are printed as if one process had done the work.
/// </summary>
public static class EvalMergeCommand
{
    public static Command Create()
    {
        var output = new Argument<DirectoryInfo>("output") { Description = "The -o folder every shard wrote to" };
        var refs = new ReferenceStatsOptions(withResNet18: false);
        var cmd = new Command("eval-merge", "Combine the shards of an eval-generator run: ADM sample batch, gFID and IS.");
        cmd.Arguments.Add(output);
        refs.AddTo(cmd);
        cmd.SetAction(r =>
        {
            using var reference = refs.LoadInception(r);
            Merge(r.GetValue(output)!.FullName, reference, null, null, null, null);
            return 0;
        });
        return cmd;
    }

    /// <summary>Merges behind a progress bar and prints what the merge found (eval-generator ends with this too).</summary>
    internal static void Merge(string outDir, FidStatistics? reference, ResNet18Cntk? resnet18, FidStatistics? reference18, long? expectedTotal, int? imageSize)
    {
        var result = Progress.Run("writing the ADM sample batch", report =>
            GeneratorEvaluationRun.Merge(outDir, reference, resnet18, reference18, expectedTotal, imageSize, onImage: report));
        Console.WriteLine($"wrote {result.Total} samples to {result.BatchPath} (arr_0 uint8 [{result.Total}, {result.Height}, {result.Width}, 3])");
        if (result.MissingInception) Console.Error.WriteLine("maskbit: note: gFID and IS need every shard run with the Inception weights (--inception)");
        else if (reference is null) Console.Error.WriteLine("maskbit: note: no --ref-stats: FID not computed");
        if (result.Json() is { } json) Console.WriteLine(json);
    }
}
