using System.CommandLine;
using MaskBit.Data;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary><c>maskbit tokenize</c>: images -> a token-indices file (int64 [N, h*w], row-major grid).</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var input = new ImageInputOptions();
        var output = new Option<FileInfo>("--output", "-o") { Description = "Token file to write (.safetensors, or .txt: one line of indices per image)", Required = true };

        var cmd = input.Command("tokenize", "Turn images into token indices with a tokenizer.", output);
        cmd.SetAction(r =>
        {
            var (files, loaded) = input.Load(r);
            using var pipeline = loaded;
            var all = new List<Tensor>();
            Progress.Run($"tokenizing {files.Count} image(s)", files.Count, advance =>
            {
                foreach (var (chunk, x) in input.Batches(r, files, pipeline))
                {
                    using var batch = x; // made by the enumerator
                    all.Add(pipeline.Tokenize(x));
                    advance(chunk.Length);
                }
            });
            var tokens = cat(all, 0);
            int side = pipeline.TokenGridSize;
            TokenFile.Write(r.GetValue(output)!.FullName, new TokenFile(tokens, files, side, pipeline.CodebookSize));
            Console.WriteLine($"wrote {tokens.shape[0]} x {tokens.shape[1]} tokens ({side}x{side} grid, codebook {pipeline.CodebookSize}) to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }
}
