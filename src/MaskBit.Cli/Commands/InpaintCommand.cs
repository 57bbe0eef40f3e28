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
        var edit = new EditOptions("inpaint", withClass: true, withRegion: true, withSampling: true, withSeed: true);
        var image = new Option<FileInfo>("--image", "-i") { Description = "Image to edit", Required = true };
        var blend = new Option<bool>("--blend") { Description = "Put the input pixels back on the tokens outside the mask" };

        var cmd = new Command("inpaint", "Regenerate a masked region of an image with the generator (bit-token inpainting).");
        cmd.Options.Add(image);
        edit.AddTo(cmd);
        cmd.Options.Add(blend);
        cmd.SetAction(r =>
        {
            edit.CheckFlags(r);
            using var pipeline = edit.Model.Load(r);
            var (file, x) = EditOptions.ReadImage(pipeline, r.GetValue(image)!);
            using var input = x;
            var region = edit.Region(r, pipeline, file) ?? throw new ArgumentException("inpaint needs a region: give --mask M.png or --box x0,y0,x1,y1");
            int label = edit.Class(r, pipeline);
            var options = edit.Sampling.Resolve(r, pipeline.Sampling);
            using var result = EditOptions.WithProgress($"inpainting {region.Count} of {region.Height * region.Width} tokens", options.NumSteps,
                progress => pipeline.Inpaint(input, region, label, options, edit.Seed(r), r.GetValue(blend), progress));
            using var maskImage = region.ToImage(pipeline.Tokenizer.DownsamplingFactor);
            edit.Save(r, pipeline, [[input[0], maskImage, result.Images[0]]], result.Tokens, [r.GetValue(image)!.FullName]);
            Console.WriteLine($"inpainted {region.Count} token(s) ({region.Coverage:P0}) as class {label} {pipeline.Classes.ShortName(label)}; wrote {edit.Output(r)}");
            return 0;
        });
        return cmd;
    }
}
