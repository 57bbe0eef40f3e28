using System.CommandLine;
using MaskBit.Data;
using MaskBit.Evaluation;
using MaskBit.Tokenizer;
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
        var common = new TokenizerOptions();
        var images = new Argument<string[]>("images") { Description = "Image files or folders (any format Skia reads)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Output folder", DefaultValueFactory = _ => new DirectoryInfo("reconstructions") };
        var resolution = new Option<int?>("--resolution") { Description = "Resize shorter side + centre crop to this size (default: dataset.preprocessing.resolution, else 256)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward pass", DefaultValueFactory = _ => 8 };

        var cmd = new Command("reconstruct", "Encode and decode images with a tokenizer; write original | reconstruction | difference PNGs and print PSNR/SSIM.");
        common.AddTo(cmd);
        cmd.Arguments.Add(images);
        cmd.Options.Add(output);
        cmd.Options.Add(resolution);
        cmd.Options.Add(batchSize);
        cmd.SetAction(r =>
        {
            var files = ImageFiles.Expand(r.GetValue(images)!);
            var bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            var (config, tokenizer, device) = common.LoadTokenizer(r);
            var pre = config.Dataset?.Preprocessing;
            int size = r.GetValue(resolution) ?? pre?.Resolution ?? 256;
            var interpolation = Images.ParseInterpolation(pre?.Interpolation ?? "bilinear");
            var outDir = r.GetValue(output)!;
            outDir.Create();

            var metrics = new TokenizerMetrics((int)tokenizer.Quantize.CodebookSize);
            var table = new Table().AddColumns("image", "PSNR (dB)", "SSIM", "output");
            Progress.Run($"reconstructing {files.Count} image(s)", files.Count, advance =>
            {
                foreach (var chunk in files.Chunk(bs))
                {
                    using var scope = NewDisposeScope();
                    using var _ = no_grad();
                    var real = stack(chunk.Select(f => Images.EvalTransform(Images.Read(f), size, interpolation))).to(device);
                    var (decoded, result) = Forward(tokenizer, real);
                    var fake = decoded.clamp(0, 1);
                    metrics.Update(real, fake, result.MinEncodingIndices);
                    var psnr = ImageMetrics.Psnr(real, fake).data<double>().ToArray();
                    var ssim = ImageMetrics.Ssim(real, fake).data<double>().ToArray();
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        var dest = Path.Combine(outDir.FullName, Path.GetFileNameWithoutExtension(chunk[i]) + "_recon.png");
                        Images.SaveGrid(dest, [[real[i].cpu(), fake[i].cpu(), (real[i] - fake[i]).abs().cpu()]]);
                        table.AddRow(Markup.Escape(chunk[i]), $"{psnr[i]:F2}", $"{ssim[i]:F4}", Markup.Escape(dest));
                    }
                    advance(chunk.Length);
                }
            });
            var m = metrics.Result();
            table.AddRow("[bold]mean[/]", $"[bold]{m.Psnr:F2}[/]", $"[bold]{m.Ssim:F4}[/]", $"codebook usage {m.CodebookUsage:P1}");
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    static (Tensor decoded, QuantizerResult result) Forward(ITokenizer tokenizer, Tensor x)
    {
        var r = tokenizer.Encode(x);
        return (tokenizer.Decode(r.Quantized), r);
    }
}
