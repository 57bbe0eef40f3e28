using System.CommandLine;
using MaskBit.Editing;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit edit</c>: class-conditional re-generation of a region (default: the whole image) or of a random share of
/// its tokens (<see cref="Inpainting.Edit"/>).
/// </summary>
public static class EditCommand
{
    public static Command Create()
    {
        var edit = new EditOptions("edit", "Image to edit", withClass: true, withRegion: true, withSampling: true, withSeed: true);
        var fraction = new Option<double>("--fraction") { Description = "Share of the region's tokens to regenerate, drawn at random (0, 1]", DefaultValueFactory = _ => 1.0 };

        var cmd = edit.Command("Re-generate a region, or a random share of the tokens, of an image for another class.", fraction);
        cmd.SetAction(r =>
        {
            double share = r.GetValue(fraction);
            if (!(share > 0 && share <= 1)) throw new ArgumentException($"--fraction must be in (0, 1], got {share}");
            using var pipeline = edit.Load(r);
            var (file, x) = edit.ReadImage(r, pipeline);
            using var input = x;
            var region = edit.Region(r, pipeline, file);
            int label = edit.Class(r, pipeline);
            var options = edit.Sampling.Resolve(r, pipeline.Sampling);
            using var result = EditOptions.WithProgress($"editing towards class {label}", options.NumSteps,
                progress => pipeline.Edit(input, label, region, share, options, edit.Seed(r), progress));
            using var maskImage = result.Mask.ToImage(pipeline.Tokenizer.DownsamplingFactor);
            edit.Save(r, pipeline, [[input[0], maskImage, result.Images[0]]], result.Tokens);
            Console.WriteLine($"regenerated {result.Mask.Count} token(s) ({result.Mask.Coverage:P0}) as class {label} {pipeline.Classes.ShortName(label)}; wrote {edit.Output(r)}");
            return 0;
        });
        return cmd;
    }
}
