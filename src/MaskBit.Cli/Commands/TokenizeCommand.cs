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
        var input = new ImageInputOptions();
        var output = new Option<FileInfo>("--output", "-o") { Description = "Token file to write (.safetensors, or .txt: one line of indices per image)", Required = true };

        var cmd = new Command("tokenize", "Turn images into token indices with a tokenizer.");
        common.AddTo(cmd);
        input.AddTo(cmd);
        cmd.Options.Add(output);
        cmd.SetAction(r =>
        {
            var files = input.Files(r);
            var (config, tokenizer, device) = common.LoadTokenizer(r);
            var all = new List<Tensor>();
            long side = input.Size(r, config) / tokenizer.DownsamplingFactor;
            Progress.Run($"tokenizing {files.Count} image(s)", files.Count, advance =>
            {
                using var _ = no_grad();
                foreach (var (chunk, x) in input.Batches(r, files, config, device))
                {
                    using var scope = NewDisposeScope();
                    using var batch = x; // made by the enumerator, outside this scope
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
