using System.CommandLine;
using MaskBit.Editing;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit inpaint</c>: regenerate the tokens a mask or box covers for a class (<see cref="Inpainting.Inpaint"/>),
/// optionally blending the input pixels back outside them.
/// </summary>
public static class InpaintCommand
{
    public static Command Create()
    {
        var edit = new EditOptions("inpaint", "Image to edit", withClass: true, withRegion: true, withSampling: true, withSeed: true);
        var blend = new Option<bool>("--blend") { Description = "Put the input pixels back on the tokens outside the mask" };

        var cmd = edit.Command("Regenerate a masked region of an image with the generator (bit-token inpainting).", blend);
        cmd.SetAction(r =>
        {
            using var pipeline = edit.Load(r);
            var (file, x) = edit.ReadImage(r, pipeline);
            using var input = x;
            var region = edit.Region(r, pipeline, file) ?? throw new ArgumentException("inpaint needs a region: give --mask M.png or --box x0,y0,x1,y1");
            int label = edit.Class(r, pipeline);
            var options = edit.Sampling.Resolve(r, pipeline.Sampling);
            using var result = EditOptions.WithProgress($"inpainting {region.Count} of {region.Height * region.Width} tokens", options.NumSteps,
                progress => pipeline.Inpaint(input, region, label, options, edit.Seed(r), r.GetValue(blend), progress));
            using var maskImage = region.ToImage(pipeline.Tokenizer.DownsamplingFactor);
            edit.Save(r, pipeline, [[input[0], maskImage, result.Images[0]]], result.Tokens);
            Console.WriteLine($"inpainted {region.Count} token(s) ({region.Coverage:P0}) as class {label} {pipeline.Classes.ShortName(label)}; wrote {edit.Output(r)}");
            return 0;
        });
        return cmd;
    }
}
