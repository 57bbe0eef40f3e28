using System.CommandLine;
using MaskBit.Generation;
using MaskBit.Imaging;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit generate</c>: class-conditional sampling with LFQ-BERT and classifier-free guidance, decoded by the
/// tokenizer; one PNG grid with a row per class, labelled with its name (and optionally one PNG per image). Without
/// model arguments, the bundled Fashion-MNIST model. The sampling settings are the
/// model's (<c>model.mlm_model</c>, see <see cref="SamplingOptions"/>), then a <c>--preset</c>, then each flag.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new ModelOptions(withGenerator: true);
        var classes = new Option<string[]>("--classes") { Description = "Classes by index or name (\"sneaker\", \"7\"; \"goldfish\", \"golden retriever\"); default: ImageNet models the original's ten demo labels, others every class", AllowMultipleArgumentsPerToken = true };
        var perClass = new Option<int>("--per-class", "--samples-per-class", "-n") { Description = "Images per class (one grid row each class)", DefaultValueFactory = _ => 4 };
        var sampling = new SamplingFlags();
        var seed = SharedOptions.Seed("Random seed (same seed and batch size, same images)", 42);
        var batchSize = new Option<int>("--batch-size") { Description = "Images per sampler batch (guidance doubles it)", DefaultValueFactory = _ => 8 };
        var output = new Option<FileInfo>("--output", "-o") { Description = "PNG grid to write", DefaultValueFactory = _ => new FileInfo("samples.png") };
        var individual = new Option<DirectoryInfo?>("--save-individual") { Description = "Also write one PNG per image into this folder (<n>_<class>_<name>.png)" };

        var cmd = new Command("generate", "Generate class-conditional images with LFQ-BERT and the tokenizer.");
        model.AddTo(cmd);
        cmd.Options.Add(classes);
        cmd.Options.Add(perClass);
        sampling.AddTo(cmd);
        foreach (var o in new Option[] { seed, batchSize, output, individual })
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            int n = CliChecks.Positive(r.GetValue(perClass), "--per-class");
            int bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            sampling.Preset(r);
            using var pipeline = model.Load(r);
            var options = sampling.Resolve(r, pipeline.Sampling);

            ulong seedValue = r.GetValue(seed);
            var classList = r.GetValue(classes) is { Length: > 0 } given
                ? given.Select(pipeline.Classes.Resolve).ToList()
                : pipeline.DefaultClasses(seedValue);
            int images = classList.Count * n, batches = (images + bs - 1) / bs;
            using var result = Progress.Run([($"sampling {images} image(s), {options.NumSteps} steps", batches * options.NumSteps), ($"decoding {images} image(s)", images)],
                advance => pipeline.Generate(classList, n, options, seedValue, bs, _ => advance(0, 1), releaseGenerator: true, onDecoded: k => advance(1, k)));
            var (decoded, labels) = (result.Images, result.Labels);

            var rows = classList.Select((c, i) => (IReadOnlyList<Tensor>)Enumerable.Range(0, n).Select(k => decoded[i * n + k]).ToList()).ToList();
            Images.SaveGrid(r.GetValue(output)!.FullName, rows, classList.Select(pipeline.Classes.ShortName).ToList());
            if (r.GetValue(individual) is { } dir)
                for (int i = 0; i < labels.Count; i++)
                    Images.Save(Path.Combine(dir.FullName, $"{i:D4}_{labels[i]:D3}_{Safe(pipeline.Classes.ShortName(labels[i]))}.png"), decoded[i]);
            Console.WriteLine($"wrote {images} image(s) of {classList.Count} class(es) ({string.Join(", ", classList.Select(c => $"{c} {pipeline.Classes.ShortName(c)}"))}) to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }

    static string Safe(string name) => string.Concat(name.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_'));
}
