using System.CommandLine;
using MaskBit.Evaluation;
using MaskBit.Imaging;
using Spectre.Console;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit reconstruct</c>: images -> tokenizer -> reconstructions. Writes one PNG per image with
/// original | reconstruction | |difference| side by side and prints PSNR/SSIM as the original's evaluator computes them.
/// </summary>
public static class ReconstructCommand
{
    public static Command Create()
    {
        var input = new ImageInputOptions();
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Output folder", DefaultValueFactory = _ => new DirectoryInfo("reconstructions") };

        var cmd = input.Command("reconstruct", "Encode and decode images with a tokenizer; write original | reconstruction | difference PNGs and print PSNR/SSIM.", output);
        cmd.SetAction(r =>
        {
            var (files, loaded) = input.Load(r);
            using var pipeline = loaded;
            var outDir = r.GetValue(output)!;
            outDir.Create();

            var metrics = new TokenizerEvaluator((int)pipeline.CodebookSize);
            var table = new Table().AddColumns("image", "PSNR (dB)", "SSIM", "output");
            Progress.Run($"reconstructing {files.Count} image(s)", files.Count, advance =>
            {
                foreach (var (chunk, real) in input.Batches(r, files, pipeline))
                {
                    using var scope = NewDisposeScope();
                    using var batch = real; // made by the enumerator, outside this scope
                    var (fake, tokens) = pipeline.Reconstruct(real);
                    metrics.Update(real, fake, tokens);
                    var psnr = ImageMetrics.Psnr(real, fake).data<double>().ToArray();
                    var ssim = ImageMetrics.Ssim(real, fake).data<double>().ToArray();
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        var dest = Path.Combine(outDir.FullName, Path.GetFileNameWithoutExtension(chunk[i]) + "_recon.png");
                        Images.SaveGrid(dest, [[RgbImage.FromTensor(real[i]), RgbImage.FromTensor(fake[i]), Images.Difference(real[i], fake[i])]]);
                        table.AddRow(Markup.Escape(chunk[i]), $"{psnr[i]:F2}", $"{ssim[i]:F4}", Markup.Escape(dest));
                    }
                    advance(chunk.Length);
                }
            });
            var m = metrics.Result();
            table.AddRow("[bold]mean[/]", $"[bold]{m.Psnr:F2}[/]", $"[bold]{m.Ssim:F4}[/]", $"codebook usage {m.CodebookUsage:P1}");
            AnsiConsole.Write(table);
            // The original evaluator's result keys (rFID, IS and LPIPS need network weights: see eval-tokenizer).
            Console.WriteLine(m.ToJson());
            return 0;
        });
        return cmd;
    }
}
