using System.CommandLine;
using MaskBit.Editing;
using MaskBit.Imaging;

namespace MaskBit.Cli.Commands;

/// <summary><c>maskbit interpolate</c>: images along a Hamming path between two images' token grids (<see cref="TokenInterpolation"/>).</summary>
public static class InterpolateCommand
{
    public static Command Create()
    {
        var edit = new EditOptions("interpolate", null, withClass: false, withRegion: false, withSampling: false, withSeed: true);
        var from = new Option<FileInfo>("--from") { Description = "First image", Required = true };
        var to = new Option<FileInfo>("--to") { Description = "Last image", Required = true };
        var steps = new Option<int>("--steps") { Description = "Points on the path, both ends included (>= 2)", DefaultValueFactory = _ => 8 };

        var cmd = edit.Command("Decode token grids along a Hamming path between two images (differing bits flipped in a seeded order).", from, to, steps);
        cmd.SetAction(r =>
        {
            int points = r.GetValue(steps);
            if (points < 2) throw new ArgumentException($"--steps must be >= 2 (the path's ends), got {points}");
            using var pipeline = edit.Load(r);
            var (_, a) = EditOptions.ReadImage(pipeline, r.GetValue(from)!);
            var (_, b) = EditOptions.ReadImage(pipeline, r.GetValue(to)!);
            using var fromImage = a;
            using var toImage = b;
            using var result = pipeline.Interpolate(fromImage, toImage, points, edit.Seed(r));
            using var maskImage = result.Mask.ToImage(pipeline.Tokenizer.DownsamplingFactor);
            // from | tokens that differ | the path | to
            edit.Save(r, pipeline, [[fromImage[0], maskImage, .. result.Images.unbind(0), toImage[0]]], result.Tokens,
                Enumerable.Range(0, points).Select(i => $"{r.GetValue(from)!.Name}->{r.GetValue(to)!.Name}@{i}").ToList());
            Console.WriteLine($"{points} images along {result.Mask.Count} differing token(s); wrote {edit.Output(r)}");
            return 0;
        });
        return cmd;
    }
}
