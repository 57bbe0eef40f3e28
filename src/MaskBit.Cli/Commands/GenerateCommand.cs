using System.CommandLine;
using MaskBit.Data;
using MaskBit.Generation;
using MaskBit.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit generate</c>: class-conditional sampling with LFQ-BERT and classifier-free guidance, decoded by the
/// tokenizer; one PNG grid with a row per class (and optionally one PNG per image).
/// Sampling knobs default to the config's <c>model.mlm_model</c> values; a config without them (demo.yaml) gets the
/// original demo's choices: constant guidance, arccos schedule, softmax temperature 1.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var common = new TokenizerOptions();
        var generator = new Option<string>("--generator", "-g") { Description = "Generator weights (released maskbit_generator_*.bin or our own)", Required = true };
        var classes = new Option<string[]>("--classes") { Description = "ImageNet classes by index or name (\"207\", \"goldfish\", \"golden retriever\"); default: the original's ten demo labels", AllowMultipleArgumentsPerToken = true };
        var perClass = new Option<int>("--samples-per-class", "-n") { Description = "Images per class (one grid row each class)", DefaultValueFactory = _ => 4 };
        var steps = new Option<int?>("--steps") { Description = "Decoding steps (default: mlm_model.num_steps)" };
        var guidance = new Option<double?>("--guidance") { Description = "Classifier-free guidance scale (default: mlm_model.guidance_scale)" };
        var annealing = new Option<string?>("--guidance-annealing") { Description = "none | linear | cosine (default: mlm_model.guidance_annealing)" };
        var scalePow = new Option<double?>("--scale-pow") { Description = "Exponent of the cosine guidance ramp (default: mlm_model.scale_pow)" };
        var temperature = new Option<double?>("--temperature") { Description = "Gumbel noise temperature on the confidences, annealed to 0 (default: mlm_model.randomize_temperature)" };
        var softmaxTemperature = new Option<double?>("--softmax-temperature") { Description = "Softmax temperature (default: mlm_model.softmax_temperature)" };
        var schedule = new Option<string?>("--schedule") { Description = "Mask schedule: arccos | cosine | linear | square | root (default: mlm_model.gen_mask_schedule_strategy)" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed (same seed, same images)", DefaultValueFactory = _ => 42UL };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per sampler batch (guidance doubles it)", DefaultValueFactory = _ => 8 };
        var output = new Option<FileInfo>("--output", "-o") { Description = "PNG grid to write", DefaultValueFactory = _ => new FileInfo("samples.png") };
        var individual = new Option<DirectoryInfo?>("--save-individual") { Description = "Also write one PNG per image into this folder" };

        var cmd = new Command("generate", "Generate class-conditional images with LFQ-BERT and the tokenizer.");
        common.AddTo(cmd);
        foreach (var o in new Option[] { generator, classes, perClass, steps, guidance, annealing, scalePow, temperature, softmaxTemperature, schedule, seed, batchSize, output, individual })
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            int n = CliChecks.Positive(r.GetValue(perClass), "--samples-per-class");
            int bs = CliChecks.Positive(r.GetValue(batchSize), "--batch-size");
            if (r.GetValue(steps) is int s && s < 1) throw new ArgumentException($"--steps must be >= 1, got {s}");
            var config = common.LoadConfig(r);
            var mlm = config.Model?.MlmModel ?? throw new ArgumentException($"{r.GetValue(common.Config)!.Name}: no model.mlm_model section (use a generator or demo config)");
            var baseOptions = SamplerOptions.FromConfig(mlm);
            var options = baseOptions with
            {
                NumSteps = r.GetValue(steps) ?? baseOptions.NumSteps,
                GuidanceScale = r.GetValue(guidance) ?? baseOptions.GuidanceScale,
                GuidanceAnnealing = r.GetValue(annealing) ?? baseOptions.GuidanceAnnealing,
                ScalePow = r.GetValue(scalePow) ?? baseOptions.ScalePow,
                RandomizeTemperature = r.GetValue(temperature) ?? baseOptions.RandomizeTemperature,
                SoftmaxTemperature = r.GetValue(softmaxTemperature) ?? baseOptions.SoftmaxTemperature,
                MaskScheduleStrategy = r.GetValue(schedule) ?? baseOptions.MaskScheduleStrategy,
            };

            var rng = new Generator(r.GetValue(seed));
            var labelList = r.GetValue(classes) is { Length: > 0 } given
                ? given.Select(ImageNetClasses.Resolve).ToList()
                : Sampler.DefaultLabels(10, rng).data<long>().Select(l => (int)l).ToList();

            // The generator first: its file says which token width it was trained for, the clearest mismatch message.
            var device = new Device(r.GetValue(common.Device)!);
            int imageSize = config.Dataset?.Preprocessing?.Resolution ?? 256;
            using var model = GeneratorFactory.Load(mlm, config.Model!.VqModel!, imageSize, r.GetValue(generator)!, device);
            var (_, tokenizer, _) = common.LoadTokenizer(r);
            foreach (var c in labelList.Where(c => c >= model.NClass))
                throw new ArgumentException($"class {c} is out of range: the generator has {model.NClass} classes");
            if (tokenizer.Quantize.CodebookSize != 1L << model.Bits)
                throw new ArgumentException($"tokenizer has {tokenizer.Quantize.CodebookSize} codes, the generator predicts {model.Bits}-bit tokens");

            var labels = labelList.SelectMany(c => Enumerable.Repeat((long)c, n)).ToArray();
            using var noise = new SeededSamplerNoise(r.GetValue(seed), device);
            var sampler = new Sampler(model, options, noise);
            var images = new List<Tensor>();
            int batches = (labels.Length + bs - 1) / bs;
            Progress.Run($"sampling {labels.Length} image(s), {options.NumSteps} steps", batches * options.NumSteps, advance =>
            {
                foreach (var chunk in labels.Chunk(bs))
                {
                    using var scope = NewDisposeScope();
                    var result = sampler.Sample(chunk.Length, tensor(chunk), _ => advance(1));
                    using var noGrad = no_grad();
                    images.Add(tokenizer.DecodeTokens(result.Tokens).clamp(0, 1).cpu().MoveToOuterDisposeScope());
                }
            });
            var all = cat(images, 0);
            var rows = labelList.Select((c, i) => (IReadOnlyList<Tensor>)Enumerable.Range(0, n).Select(k => all[i * n + k]).ToList()).ToList();
            Images.SaveGrid(r.GetValue(output)!.FullName, rows);
            if (r.GetValue(individual) is { } dir)
                for (int i = 0; i < labels.Length; i++)
                    Images.Save(Path.Combine(dir.FullName, $"{i:D4}_{labels[i]:D3}_{Safe(ImageNetClasses.ShortName((int)labels[i]))}.png"), all[i]);
            Console.WriteLine($"wrote {labels.Length} image(s) of {labelList.Count} class(es) ({string.Join(", ", labelList.Select(c => $"{c} {ImageNetClasses.ShortName(c)}"))}) to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }

    static string Safe(string name) => string.Concat(name.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_'));
}
