using System.CommandLine;
using MaskBit.Benchmarks;
using Spectre.Console;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit bench</c>: speed and peak memory of the full-size models, randomly initialised from a config (no weights
/// needed): generation by default (<see cref="GenerationBenchmark"/>), or checkpoint I/O, a training step of either
/// stage, the Inception network. Numbers for the docs come from here, never from unit tests.
/// </summary>
public static class BenchCommand
{
    const string GeneratorDefault = "generator/maskbit_generator_14bit.yaml", TokenizerDefault = "tokenizer/maskbit_tokenizer_14bit.yaml";

    public static Command Create()
    {
        var config = new ConfigOptions("Generator config (default: the official 14-bit one, shipped with maskbit; the 14-bit tokenizer's for --train-tokenizer)",
            required: false, defaultConfig: GeneratorDefault);
        var steps = new Option<int>("--steps") { Description = "Decoding steps per image (training steps with --train-*)", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch-size") { Description = "Images per sampler call (per training step with --train-*)", DefaultValueFactory = _ => 1 };
        var repeats = new Option<int>("--repeats") { Description = "Timed sampler calls (after one warm-up step)", DefaultValueFactory = _ => 1 };
        var device = SharedOptions.Device();
        var checkpointIo = new Option<bool>("--checkpoint-io") { Description = "Instead: time writing and reading the generator's state dict (.bin with CRC-32 checks, .safetensors)" };
        var trainTokenizer = new Option<bool>("--train-tokenizer") { Description = "Instead: Stage I training steps/s of a tokenizer config (random data, a random-weight perceptual network when the config asks for one)" };
        var trainGenerator = new Option<bool>("--train-generator") { Description = "Instead: Stage II training steps/s of a generator config (random tokens and labels)" };
        var json = SharedOptions.Json("the results (generation: generator_s_per_image_step, decode_s_per_image, tokenizer_encode/decode_s_per_image, peak_rss_mib, threads, cpu, blas, matmul_gflops, libtorch_matmul_gflops, generator_gflops)");
        var memoryCurve = new Option<FileInfo?>("--memory-curve") { Description = "Also record the resident memory at every decoding step of the first timed call: a PNG chart at this path and the values with each step's seconds beside it (.csv)" };
        var inception = new Option<bool>("--inception") { Description = "Instead: FID Inception feature throughput (images/s) on random 256x256 images, random weights" };

        var cmd = new Command("bench", "Measure generation (seconds per image) and reconstruction speed and peak memory of the full-size models.");
        config.AddTo(cmd);
        foreach (var o in new Option[] { steps, batch, repeats, device, json, memoryCurve, checkpointIo, trainTokenizer, trainGenerator, inception }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            int n = CliChecks.Positive(r.GetValue(steps), "--steps");
            int b = CliChecks.Positive(r.GetValue(batch), "--batch-size");
            int reps = CliChecks.Positive(r.GetValue(repeats), "--repeats");
            var dev = r.GetDevice(device);
            var path = r.GetValue(trainTokenizer) && !config.Given(r) ? ShippedConfigs.Path(TokenizerDefault) : config.File(r)!.FullName;
            var cfg = Config.ConfigLoader.Load(path, config.Overrides(r));
            var name = Path.GetFileName(path);
            var curve = r.GetValue(memoryCurve) is not null ? new List<MemoryPoint>() : null;
            var report = r.GetValue(inception) ? InceptionBenchmark.Run(dev, b, reps)
                : r.GetValue(trainTokenizer) ? TrainingBenchmark.Tokenizer(cfg, name, dev, b, n)
                : r.GetValue(trainGenerator) ? TrainingBenchmark.Generator(cfg, name, dev, b, n)
                : r.GetValue(checkpointIo) ? CheckpointIoBenchmark.Run(cfg)
                : GenerationBenchmark.Run(cfg, name, dev, b, n, reps, curve);
            if (!MaskBit.Distributed.ProcessGroup.World.IsMain) return 0; // rank 0 reports
            var table = new Table().AddColumns(report.Columns.Select(Markup.Escape).ToArray());
            foreach (var row in report.Rows) table.AddRow(row.Select(Markup.Escape).ToArray());
            AnsiConsole.Write(table);
            if (curve is { Count: > 0 })
            {
                var png = r.GetValue(memoryCurve)!.FullName;
                GenerationBenchmark.WriteMemoryCurve(png, curve, name, b);
                AnsiConsole.MarkupLine($"memory curve: [bold]{Markup.Escape(png)}[/] and {Markup.Escape(Path.ChangeExtension(png, ".csv"))} (min {curve.Min(c => c.Mib):N0}, max {curve.Max(c => c.Mib):N0} MiB)");
            }
            if (r.GetValue(json) && report.Json is not null) Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(report.Json));
            return 0;
        });
        return cmd;
    }
}
