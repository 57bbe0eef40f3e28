using System.CommandLine;
using MaskBit.Distributed;
using MaskBit.Evaluation;
using Spectre.Console;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit eval-tokenizer</c>: the original's <c>scripts/eval_tokenizer.py</c> over a folder of validation images:
/// evaluation transform (resize + centre crop), reconstruction, clamp, and every metric of its TokenizerEvaluator
/// (rFID against the real images' own statistics, IS, LPIPS, PSNR, SSIM, MAE, MSE, codebook usage and entropy), plus
/// FD_ResNet18 (the same Fréchet distance on CNTK ResNet-18 features) when that network is in the NuGet cache.
/// Prints a table and one JSON line with the original's result keys (and FD_ResNet18).
/// </summary>
public static class EvalTokenizerCommand
{
    public static Command Create()
    {
        var model = new ModelOptions(withGenerator: false);
        var weights = new EvalWeightOptions(withLpips: true);
        var data = new Option<string[]>("--data", "-d") { Description = "Validation image files or folders (ImageNet val: 50,000 images)", Required = true, AllowMultipleArgumentsPerToken = true };
        var resolution = new Option<int?>("--resolution") { Description = "Resize shorter side + centre crop to this size (default: dataset.preprocessing.resolution, else 256)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per batch (the original: training.per_gpu_batch_size, 16)", DefaultValueFactory = _ => 16 };

        var cmd = new Command("eval-tokenizer", "Evaluate a tokenizer on a folder of images: rFID, IS, LPIPS, PSNR, SSIM, MAE, MSE, codebook usage/entropy.");
        model.AddTo(cmd);
        foreach (var o in new Option[] { data, resolution, batchSize }) cmd.Options.Add(o);
        weights.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var files = ImageFiles.Expand(r.GetValue(data)!);
            int bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            var overrides = r.GetValue(resolution) is int size ? new[] { $"dataset.preprocessing.resolution={CliChecks.Positive(size, "--resolution")}" } : [];
            using var pipeline = model.Load(r, overrides);
            pipeline.BatchSize = bs;
            using var inception = weights.LoadInception(r, pipeline.Device);
            using var lpips = weights.LoadLpips(r, pipeline.Device);
            using var resnet18 = weights.LoadResNet18(r, pipeline.Device);
            if (inception is null && ProcessGroup.World.IsMain) Console.Error.WriteLine($"maskbit: note: rFID and Inception Score skipped: {EvalWeightOptions.InceptionMissing}");
            if (lpips is null && ProcessGroup.World.IsMain) Console.Error.WriteLine($"maskbit: note: LPIPS skipped: {weights.LpipsMissing(r)}");
            if (resnet18 is null && ProcessGroup.World.IsMain) Console.Error.WriteLine($"maskbit: note: FD_ResNet18 skipped: {EvalWeightOptions.ResNet18Missing}");

            using var evaluator = new TokenizerEvaluator((int)pipeline.CodebookSize, inception, lpips, resnet18);
            int mine = Shard.Of(ProcessGroup.World).Of(files).Count; // the bar: rank 0's part
            Progress.Run($"evaluating on {files.Count} image(s)", mine, advance => evaluator.Update(pipeline, files, n => advance(n), ProcessGroup.World));
            if (!ProcessGroup.World.IsMain) return 0; // rank 0 reports
            var result = evaluator.Result();
            var table = new Table().AddColumns("metric", "value");
            foreach (var (key, value) in result.Entries()) table.AddRow(key, value.ToString("G6", System.Globalization.CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            Console.WriteLine(result.ToJson());
            return 0;
        });
        return cmd;
    }
}
