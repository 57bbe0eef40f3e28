using MaskBit.Imaging;
using MaskBit.Pipeline;

// A model folder (see `maskbit export`), or a config with weight files such as the released .bin files:
//   using var pipeline = MaskBitPipeline.FromFolder("my-model");
using var pipeline = MaskBitPipeline.Load(configPath: args[0], tokenizerPath: args[1], generatorPath: args[2]);

// Two images of "golden retriever" with the model's sampling settings, but 8 decoding steps.
var options = pipeline.Sampling with { NumSteps = 8 };
int retriever = pipeline.Classes.Resolve("golden retriever");
using var result = pipeline.Generate([retriever], perClass: 2, options, seed: 1,
    onProgress: p => Console.Write($"\rbatch {p.Batch}/{p.Batches}, step {p.Step}/{p.Steps}"));
Console.WriteLine();
Images.Save(args[3], result.Images);                    // [2, 3, H, W] in [0, 1]: one PNG strip

// Bit tokens: images -> token indices [B, h*w] -> images.
var tokens = pipeline.Tokenize(result.Images);
using var decoded = pipeline.Detokenize(tokens);
Console.WriteLine($"{result.Images.shape[0]} images, tokens [{string.Join(", ", tokens.shape)}] < {pipeline.CodebookSize}");
