using System.CommandLine;
using MaskBit.Data;
using MaskBit.Tokenizer;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary><c>maskbit tokenize</c>: images -> a token-indices file (int64 [N, h*w], row-major grid).</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var common = new TokenizerOptions();
        var images = new Argument<string[]>("images") { Description = "Image files or folders", Arity = ArgumentArity.OneOrMore };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Token file to write (.safetensors, or .txt: one line of indices per image)", Required = true };
        var resolution = new Option<int?>("--resolution") { Description = "Resize shorter side + centre crop (default: dataset.preprocessing.resolution, else 256)" };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8, Description = "Images per forward pass" };

        var cmd = new Command("tokenize", "Turn images into token indices with a tokenizer.");
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
            var all = new List<Tensor>();
            long side = size / tokenizer.DownsamplingFactor;
            Progress.Run($"tokenizing {files.Count} image(s)", files.Count, advance =>
            {
                foreach (var chunk in files.Chunk(bs))
                {
                    using var scope = NewDisposeScope();
                    using var _ = no_grad();
                    var x = stack(chunk.Select(f => Images.EvalTransform(Images.Read(f), size, interpolation))).to(device);
                    all.Add(tokenizer.Tokenize(x).cpu().MoveToOuterDisposeScope());
                    advance(chunk.Length);
                }
            });
            var tokens = cat(all, 0);
            TokenFile.Write(r.GetValue(output)!.FullName, new TokenFile(tokens, files, (int)side, tokenizer.Quantize.CodebookSize));
            Console.WriteLine($"wrote {tokens.shape[0]} x {tokens.shape[1]} tokens ({side}x{side} grid, codebook {tokenizer.Quantize.CodebookSize}) to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }
}
