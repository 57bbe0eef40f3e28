using System.CommandLine;
using MaskBit.Editing;
using MaskBit.Imaging;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit bitflip</c>: flip chosen bits of an image's tokens (optionally inside a region) and decode; without
/// <c>--bits</c>, the effect of flipping each bit in turn (<see cref="BitFlips"/>). Deterministic.
/// </summary>
public static class BitFlipCommand
{
    const int SweepColumns = 8;

    public static Command Create()
    {
        var edit = new EditOptions("bitflip", "Image whose tokens to flip", withClass: false, withRegion: true, withSampling: false, withSeed: false);
        var bits = new Option<string?>("--bits") { Description = "Bits to flip, 0 = least significant (= latent channel 0): 0,3,9; default: each bit in turn" };

        var cmd = edit.Command("Flip bits of an image's tokens and decode (bit tokens carry structured semantics).", bits);
        cmd.SetAction(r =>
        {
            var bitList = r.GetValue(bits) is { } text ? ParseBits(text) : null;
            using var pipeline = edit.Load(r);
            var (file, x) = edit.ReadImage(r, pipeline);
            using var input = x;
            var region = edit.Region(r, pipeline, file);
            using var result = bitList is null ? pipeline.BitSweep(input, region) : pipeline.FlipBits(input, bitList, region);
            using var scope = NewDisposeScope();
            var (reconstruction, _) = pipeline.Reconstruct(input);
            var head = new List<Tensor> { input[0], result.Mask.ToImage(pipeline.Tokenizer.DownsamplingFactor), reconstruction[0] };
            var cells = result.Images.unbind(0);
            // With --bits: one row input | mask | reconstruction | result; the sweep: that row, then the bits 8 a row.
            IReadOnlyList<IReadOnlyList<Tensor>> rows = bitList is null
                ? [head, .. cells.Chunk(SweepColumns)]
                : [[.. head, cells[0]]];
            edit.Save(r, pipeline, rows, result.Tokens);
            Console.WriteLine(bitList is null
                ? $"flipped each of the {cells.Length} bits in turn on {result.Mask.Count} token(s); wrote {edit.Output(r)}"
                : $"flipped bit(s) {string.Join(",", bitList)} on {result.Mask.Count} token(s); wrote {edit.Output(r)}");
            return 0;
        });
        return cmd;
    }

    static int[] ParseBits(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !parts.All(p => int.TryParse(p, out _)))
            throw new ArgumentException($"--bits '{text}': expected bit indices separated by commas (0,3,9)");
        return parts.Select(int.Parse).ToArray();
    }
}
