using System.CommandLine;
using MaskBit.Editing;
using MaskBit.Imaging;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary><c>maskbit outpaint</c>: grow the image by whole tokens on each side and let the generator fill them (<see cref="Outpainting.Outpaint"/>).</summary>
public static class OutpaintCommand
{
    public static Command Create()
    {
        var edit = new EditOptions("outpaint", "Image to extend", withClass: true, withRegion: false, withSampling: true, withSeed: true);
        var extend = new Option<string>("--extend") { Description = "Pixels to add per side, rounded to whole tokens: left=16,right=16,top=0,bottom=0", Required = true };

        var cmd = edit.Command("Extend an image beyond its borders with the generator (windows of its token grid).", extend);
        cmd.SetAction(r =>
        {
            var extension = Extension.Parse(r.GetValue(extend)!);
            using var pipeline = edit.Load(r);
            int f = pipeline.Tokenizer.DownsamplingFactor, g = pipeline.TokenGridSize;
            var t = extension.ToTokens(f);
            edit.CheckSquareTokens(r, g + t.Top + t.Bottom, g + t.Left + t.Right);
            var (_, x) = edit.ReadImage(r, pipeline);
            using var input = x;
            int label = edit.Class(r, pipeline);
            var options = edit.Sampling.Resolve(r, pipeline.Sampling);
            using var result = EditOptions.WithProgress("outpainting", options.NumSteps,
                progress => pipeline.Outpaint(input, extension, label, options, edit.Seed(r), progress));
            using var scope = NewDisposeScope();
            // The input on the grown canvas (grey where new), the new tokens in white, the result.
            var canvas = full_like(result.Images[0], 0.5f);
            canvas[.., TensorIndex.Slice(t.Top * f, (t.Top + g) * f), TensorIndex.Slice(t.Left * f, (t.Left + g) * f)] = input[0];
            edit.Save(r, pipeline, [[canvas, result.Mask.ToImage(f), result.Images[0]]], result.Tokens);
            Console.WriteLine($"extended to {result.Images.shape[3]}x{result.Images.shape[2]} pixels ({result.Mask.Width}x{result.Mask.Height} tokens, {result.Mask.Count} new) as class {label} {pipeline.Classes.ShortName(label)}; wrote {edit.Output(r)}");
            return 0;
        });
        return cmd;
    }
}
