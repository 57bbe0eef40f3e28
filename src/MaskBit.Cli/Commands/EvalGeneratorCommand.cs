using System.CommandLine;
using MaskBit.Distributed;
using MaskBit.Evaluation;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit eval-generator</c>: the original's <c>scripts/eval_maskbit.py</c> protocol
/// (<see cref="GeneratorEvaluationRun"/>): sample PNGs, then the ADM sample batch, gFID and IS (with the Inception
/// weights) and FD_ResNet18 (with <c>--ref-stats-resnet18</c>). Resumable; shards (<c>--shard i/n</c>) are combined by
/// <c>maskbit eval-merge</c>. Under an MPI launcher (<c>mpirun -np N</c>) rank r does shard r/N and rank 0 merges once
/// every rank is done.
/// </summary>
public static class EvalGeneratorCommand
{
    public static Command Create()
    {
        var model = new ModelOptions(withGenerator: true);
        var weights = new EvalWeightOptions(withLpips: false);
        var refs = new ReferenceStatsOptions();
        var perClass = new Option<int>("--per-class", "-n") { Description = "Samples per class (the official protocol: 50, i.e. 50,000 for ImageNet)", DefaultValueFactory = _ => 50 };
        var classes = new Option<string[]>("--classes") { Description = "Evaluate only these classes (index or name; default: every class)", AllowMultipleArgumentsPerToken = true };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Output folder: samples/*.png, state files, samples.npz", Required = true };
        var shard = new Option<string>("--shard") { Description = "Do part i of n (0-based, e.g. 2/8) of the samples; combine with eval-merge", DefaultValueFactory = _ => "0/1" };
        var seed = SharedOptions.Seed("Seed of the label permutation; sample j uses seed + j");
        var batchSize = new Option<int>("--batch-size") { Description = "Samples between two state saves (and per Inception pass)", DefaultValueFactory = _ => 16 };

        var cmd = new Command("eval-generator", "Sample the official evaluation set (PNG + ADM .npz batch) and compute gFID / IS.");
        model.AddTo(cmd);
        foreach (var o in new Option[] { perClass, classes, output, shard, seed, batchSize }) cmd.Options.Add(o);
        refs.AddTo(cmd);
        weights.AddTo(cmd);
        cmd.SetAction(r =>
        {
            int n = CliChecks.Positive(r.GetValue(perClass), "--per-class");
            int bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            var group = ProcessGroup.World;
            bool shardGiven = r.GetResult(shard) is { Implicit: false };
            if (shardGiven && group.IsDistributed) throw new ArgumentException($"--shard and the launcher's {group.Size} processes both split the work: give one of them");
            var part = group.IsDistributed ? new Shard(group.Rank, group.Size) : Shard.Parse(r.GetValue(shard)!);
            bool merges = part.Count == 1 || group.IsMain && group.IsDistributed;
            var outDir = r.GetValue(output)!.FullName;
            using var reference = refs.LoadInception(r);
            using var reference18 = refs.LoadResNet18(r);
            using var pipeline = model.Load(r);
            using var inception = weights.LoadInception(r, pipeline.Device);
            if (inception is null && group.IsMain) Console.Error.WriteLine($"maskbit: note: gFID and IS skipped: {EvalWeightOptions.InceptionMissing}");
            using var resnet18 = merges && reference18 is not null ? weights.LoadResNet18(r, pipeline.Device) : null;
            if (reference18 is not null && resnet18 is null && merges) Console.Error.WriteLine($"maskbit: note: FD_ResNet18 skipped: {EvalWeightOptions.ResNet18Missing}");

            var classList = r.GetValue(classes) is { Length: > 0 } given
                ? given.Select(pipeline.Classes.Resolve).ToList()
                : Enumerable.Range(0, pipeline.Generator!.NClass).ToList();
            ulong seedValue = r.GetValue(seed);
            var run = new GeneratorEvaluationRun(outDir, GeneratorEvaluationRun.Labels(classList, n, seedValue), seedValue, part, inception is not null);
            long next = run.Next();
            if (next > run.Start && group.IsMain) Console.WriteLine($"resuming shard {part} at sample {next} ({next - run.Start} of {run.End - run.Start} done)");
            Progress.Run($"sampling {run.End - next} image(s) of shard {part}", run.End - next, advance => run.Run(pipeline, inception, bs, () => advance(1)));
            group.Barrier(); // every rank's shard is complete
            if (merges) EvalMergeCommand.Merge(outDir, reference, resnet18, reference18, run.Total, pipeline.ImageSize);
            else if (!group.IsDistributed) Console.WriteLine($"shard {part} complete ({run.End - run.Start} samples); run `maskbit eval-merge {outDir}` once every shard is done");
            return 0;
        });
        return cmd;
    }
}
