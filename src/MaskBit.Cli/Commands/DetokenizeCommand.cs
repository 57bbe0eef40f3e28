using System.CommandLine;
using MaskBit.Data;
using MaskBit.Imaging;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary><c>maskbit detokenize</c>: a token-indices file -> decoded images (one PNG each).</summary>
public static class DetokenizeCommand
{
    public static Command Create()
    {
        var model = new ModelOptions(withGenerator: false);
        var input = new Argument<FileInfo>("tokens") { Description = "Token file written by `maskbit tokenize` (.safetensors or .txt)" };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Output folder", DefaultValueFactory = _ => new DirectoryInfo("decoded") };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8, Description = "Images per decode pass" };

        var cmd = new Command("detokenize", "Decode token indices back into images.");
        model.AddTo(cmd);
        cmd.Arguments.Add(input);
        cmd.Options.Add(output);
        cmd.Options.Add(batchSize);
        cmd.SetAction(r =>
        {
            var bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            var file = TokenFile.Read(r.GetValue(input)!.FullName);
            using var pipeline = model.Load(r);
            pipeline.BatchSize = bs;
            if (file.CodebookSize != pipeline.CodebookSize)
                throw new ArgumentException($"{r.GetValue(input)!.Name}: tokens are for a codebook of {file.CodebookSize}, the tokenizer has {pipeline.CodebookSize}");
            var outDir = r.GetValue(output)!;
            outDir.Create();
            long n = file.Tokens.shape[0];
            Progress.Run($"decoding {n} image(s)", n, advance =>
            {
                for (long start = 0; start < n; start += bs)
                {
                    using var scope = NewDisposeScope();
                    long count = Math.Min(bs, n - start);
                    var images = pipeline.Detokenize(file.Tokens.narrow(0, start, count));
                    for (long i = 0; i < count; i++)
                    {
                        var name = Path.GetFileNameWithoutExtension(file.Sources[(int)(start + i)]);
                        Images.Save(Path.Combine(outDir.FullName, $"{start + i:D5}_{name}.png"), images[i]);
                    }
                    advance(count);
                }
            });
            Console.WriteLine($"wrote {n} image(s) to {outDir.FullName}");
            return 0;
        });
        return cmd;
    }
}
