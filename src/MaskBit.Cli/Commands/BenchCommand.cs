using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Native;
using MaskBit.Networks;
using MaskBit.Tokenizer;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit bench</c>: speed and peak memory of the full-size models, randomly initialised from a config (no weights
/// needed; the cost does not depend on the values). Numbers for the README come from here, never from unit tests.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "Generator config (default: the official 14-bit one, shipped with maskbit)", DefaultValueFactory = _ => new FileInfo(ShippedConfigs.Path("generator/maskbit_generator_14bit.yaml")) };
        var set = new Option<string[]>("--set") { Description = "Config override key=value (e.g. model.mlm_model.depth=12); repeatable" };
        var steps = new Option<int>("--steps") { Description = "Decoding steps per image", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch-size") { Description = "Images per sampler call", DefaultValueFactory = _ => 1 };
        var repeats = new Option<int>("--repeats") { Description = "Timed sampler calls (after one warm-up step)", DefaultValueFactory = _ => 1 };
        var device = new Option<string>("--device") { Description = "cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };
        var checkpointIo = new Option<bool>("--checkpoint-io") { Description = "Instead: time writing and reading the generator's state dict (.bin with CRC-32 checks, .safetensors)" };
        var trainTokenizer = new Option<bool>("--train-tokenizer") { Description = "Instead: Stage I training steps/s of a tokenizer config (--config, default the official 14-bit tokenizer; random data, a random-weight ResNet-50 when the config asks for one)" };
        var trainGenerator = new Option<bool>("--train-generator") { Description = "Instead: Stage II training steps/s of a generator config (--config, default the official 14-bit generator; random tokens and labels)" };
        var json = new Option<bool>("--json") { Description = "Also print the results as one JSON line (generator_s_per_image_step, decode_s_per_image, tokenizer_encode/decode_s_per_image, peak_rss_mib, threads, cpu, blas, matmul_gflops, libtorch_matmul_gflops, generator_gflops)" };
        var memoryCurve = new Option<FileInfo?>("--memory-curve") { Description = "Also record the resident memory at every decoding step of the first timed call: a PNG chart at this path and the values with each step's seconds beside it (.csv)" };
        var inception = new Option<bool>("--inception") { Description = "Instead: FID Inception feature throughput (images/s) on random 256x256 images, random weights" };

        var cmd = new Command("bench", "Measure generation (seconds per image) and reconstruction speed and peak memory of the full-size models.");
        foreach (var o in new Option[] { config, set, steps, batch, repeats, device, json, memoryCurve, checkpointIo, trainTokenizer, trainGenerator, inception }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            int n = CliChecks.Positive(r.GetValue(steps), "--steps");
            int b = CliChecks.Positive(r.GetValue(batch), "--batch-size");
            int reps = CliChecks.Positive(r.GetValue(repeats), "--repeats");
            var dev = new Device(r.GetValue(device)!);
            if (r.GetValue(inception)) return BenchInception(dev, b, reps);
            if (r.GetValue(trainTokenizer))
            {
                var path = r.GetResult(config) is { Implicit: false } ? r.GetValue(config)!.FullName : ShippedConfigs.Path("tokenizer/maskbit_tokenizer_14bit.yaml");
                return BenchTrainTokenizer(Config.ConfigLoader.Load(path, r.GetValue(set) ?? []), Path.GetFileName(path), dev, b, n, r.GetValue(json));
            }
            if (r.GetValue(trainGenerator))
                return BenchTrainGenerator(Config.ConfigLoader.Load(r.GetValue(config)!.FullName, r.GetValue(set) ?? []), r.GetValue(config)!.Name, dev, b, n, r.GetValue(json));
            var cfg = Config.ConfigLoader.Load(r.GetValue(config)!.FullName, r.GetValue(set) ?? []);
            var vq = cfg.Model?.VqModel ?? throw new ArgumentException("config has no model.vq_model");
            var mlm = cfg.Model.MlmModel ?? throw new ArgumentException("config has no model.mlm_model");
            int size = cfg.Dataset?.Preprocessing?.Resolution ?? 256;
            if (r.GetValue(checkpointIo)) return BenchCheckpointIo(mlm, vq, size);

            manual_seed(0);
            var tokenizer = TokenizerFactory.Create(vq);
            tokenizer.Module.to(dev).eval();
            using var model = GeneratorFactory.Create(mlm, vq, size);
            model.to(dev).eval();
            long genParams = model.parameters().Sum(p => p.numel()), tokParams = tokenizer.Module.parameters().Sum(p => p.numel());
            var options = mlm.Sampling with { NumSteps = n };
            using var noise = new SeededSamplerNoise(0, dev);
            var labels = arange(b, dtype: int64);

            // Warm-up: one step (allocator, kernels) and one encode/decode.
            new Sampler(model, options with { NumSteps = 1 }, noise).Sample(b, labels);
            var sampler = new Sampler(model, options, noise);
            var x = rand(b, 3, size, size, device: dev);
            using (no_grad()) tokenizer.Decode(tokenizer.Encode(x).Quantized).Dispose();
            var (sample, decodeTokens, encode, decode) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
            var curve = r.GetValue(memoryCurve) is not null ? new List<(int Step, long Mib, double Seconds)> { (0, MachineInfo.ResidentMiB(), 0) } : null;
            var stepClock = new Stopwatch();
            for (int i = 0; i < reps; i++)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                // Each step's seconds run from the previous step's callback: its forward and what the sampler did after the previous one.
                Action<SamplerStep>? record = i == 0 && curve is not null ? s => { curve.Add((s.Index + 1, MachineInfo.ResidentMiB(), stepClock.Elapsed.TotalSeconds)); stepClock.Restart(); } : null;
                stepClock.Restart();
                sample.Add(Time(() => sampler.Sample(b, labels, record).Tokens, out var tokens) / b);
                decodeTokens.Add(Time(() => tokenizer.DecodeTokens(tokens).cpu(), out _) / b);
                encode.Add(Time(() => tokenizer.Encode(x).Quantized, out var z) / b);
                decode.Add(Time(() => tokenizer.Decode(z).cpu(), out _) / b);
            }
            double stepSeconds = Median(sample) / n;
            double matmul = MatmulGflops(model.SeqLen * 2, mlm.HiddenDim, mlm.MlpDim, dev, reps, Blas.Linear);
            // Without an external BLAS the generator's path is libtorch's: one measurement serves both fields.
            double libtorchMatmul = Blas.Backend == "libtorch" ? matmul
                : MatmulGflops(model.SeqLen * 2, mlm.HiddenDim, mlm.MlpDim, dev, reps, nn.functional.linear);
            var m = new BenchResult(stepSeconds, Median(decodeTokens), Median(encode), Median(decode), MachineInfo.PeakResidentMiB(),
                torch.get_num_threads(), MachineInfo.CpuModel(), Blas.Backend, matmul, libtorchMatmul,
                GeneratorFlops(model, mlm, sequences: options.GuidanceScale != 0 ? 2 : 1) / stepSeconds / 1e9);
            var table = new Table().AddColumns("measure", "value (median of " + reps + ")");
            table.AddRow("config", Markup.Escape(r.GetValue(config)!.Name));
            table.AddRow("cpu / device / threads", $"{Markup.Escape(m.cpu)} / {dev} / {m.threads}");
            table.AddRow("generator / tokenizer parameters", $"{genParams:N0} / {tokParams:N0}");
            table.AddRow("batch, steps", $"{b}, {n} (guidance: 2 x {b} sequences per forward)");
            table.AddRow("sampling, s per image", $"{m.generator_s_per_image_step * n:F2}");
            table.AddRow("sampling, s per image and step", $"{m.generator_s_per_image_step:F3}");
            table.AddRow("decode tokens -> image, s per image", $"{m.decode_s_per_image:F2}");
            table.AddRow("total, s per image", $"{m.generator_s_per_image_step * n + m.decode_s_per_image:F2}");
            table.AddRow($"tokenizer encode / decode {size}x{size}, s per image", $"{m.tokenizer_encode_s_per_image:F2} / {m.tokenizer_decode_s_per_image:F2}");
            table.AddRow("peak resident memory", $"{m.peak_rss_mib:N0} MiB");
            table.AddRow("matrix multiplies (BLAS)", Markup.Escape(m.blas));
            table.AddRow("generator GFLOP/s / fp32 matmul GFLOP/s", $"{m.generator_gflops:F0} / {m.matmul_gflops:F0} ({m.generator_gflops / m.matmul_gflops:P0}; libtorch's matmul: {m.libtorch_matmul_gflops:F0})");
            AnsiConsole.Write(table);
            if (curve is not null) WriteMemoryCurve(r.GetValue(memoryCurve)!.FullName, curve, r.GetValue(config)!.Name, b);
            if (r.GetValue(json)) Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(m));
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// <c>--checkpoint-io</c>: what reading a full-size checkpoint costs, integrity checks included. The random-init
    /// generator is written to a temporary <c>.bin</c> (zip: every entry read is checked against its CRC-32) and
    /// <c>.safetensors</c> (header checked, no checksum), and each is read back with
    /// <see cref="Interop.Checkpoint.ReadStateDict"/>. Then the .bin's bytes are read with plain file reads, timing the
    /// reads and the CRC-32 over the same chunks apart: the raw I/O and the checksum's share of the checked read.
    /// Every time is the best of three, files from the page cache (just written). The last row, filling tensors of the
    /// state dict's sizes without any file, shows what the fresh memory alone costs (first touches of pages are slow on
    /// a VM, and vary with the allocator's state). The temporary files are deleted.
    /// </summary>
    static int BenchCheckpointIo(Config.MlmModelConfig mlm, Config.VqModelConfig vq, int size)
    {
        manual_seed(0);
        using var model = GeneratorFactory.Create(mlm, vq, size);
        var dir = Directory.CreateTempSubdirectory("maskbit-bench-io-").FullName;
        try
        {
            var table = new Table().AddColumns("measure", "seconds", "GB/s");
            void Row(string what, long bytes, double seconds) => table.AddRow(what, $"{seconds:F2}", $"{bytes / seconds / 1e9:F2}");
            static double BestOfThree(Func<double> seconds) => Enumerable.Range(0, 3).Min(_ => seconds());
            static double Time(Action action)
            {
                var sw = Stopwatch.StartNew();
                action();
                return sw.Elapsed.TotalSeconds;
            }
            static void Read(string path)
            {
                foreach (var t in Interop.Checkpoint.ReadStateDict(path).Values) t.Dispose();
            }

            var bin = Path.Combine(dir, "generator.bin");
            var safetensors = Path.Combine(dir, "generator.safetensors");
            foreach (var path in new[] { bin, safetensors })
            {
                double seconds = Time(() => Interop.Checkpoint.Save(model, path));
                Row($"write {Path.GetFileName(path)} ({new FileInfo(path).Length / 1e9:F2} GB)", new FileInfo(path).Length, seconds);
            }
            // alternated, so that both formats meet the allocator in the same state
            double binSeconds = double.MaxValue, safetensorsSeconds = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                binSeconds = Math.Min(binSeconds, Time(() => Read(bin)));
                safetensorsSeconds = Math.Min(safetensorsSeconds, Time(() => Read(safetensors)));
            }
            Row("read generator.bin (CRC-32 checked)", new FileInfo(bin).Length, binSeconds);
            Row("read generator.safetensors (header checked)", new FileInfo(safetensors).Length, safetensorsSeconds);

            var chunk = new byte[1 << 24];
            double readSeconds = double.MaxValue, crcSeconds = double.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                var crc = new System.IO.Hashing.Crc32();
                double reading = 0, hashing = 0;
                using var file = new FileStream(bin, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
                for (int n = 1; n > 0;)
                {
                    reading += Time(() => n = file.Read(chunk));
                    hashing += Time(() => crc.Append(chunk.AsSpan(0, n)));
                }
                (readSeconds, crcSeconds) = (Math.Min(readSeconds, reading), Math.Min(crcSeconds, hashing));
            }
            Row("plain read of the .bin's bytes (no parsing, no check)", new FileInfo(bin).Length, readSeconds);
            Row("CRC-32 of the same bytes (in memory)", new FileInfo(bin).Length, crcSeconds);
            var shapes = model.state_dict().Values.Select(t => t.shape).ToList();
            Row("allocate and zero the state dict's tensors (no file)", new FileInfo(safetensors).Length, BestOfThree(() => Time(() =>
            {
                using var scope = NewDisposeScope();
                foreach (var shape in shapes) zeros(shape);
            })));
            AnsiConsole.Write(table);
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The machine-readable result of the generation benchmark (medians over the repeats, after a warm-up).</summary>
#pragma warning disable IDE1006 // JSON keys
    sealed record BenchResult(double generator_s_per_image_step, double decode_s_per_image, double tokenizer_encode_s_per_image,
        double tokenizer_decode_s_per_image, long peak_rss_mib, int threads, string cpu, string blas, double matmul_gflops,
        double libtorch_matmul_gflops, double generator_gflops);
#pragma warning restore IDE1006

    static double Time(Func<Tensor> work, out Tensor result)
    {
        var sw = Stopwatch.StartNew();
        result = work();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>The resident memory after each decoding step as a chart (PNG) and a CSV beside it (same name, .csv).</summary>
    static void WriteMemoryCurve(string png, List<(int Step, long Mib, double Seconds)> curve, string configName, int batch)
    {
        var chart = Imaging.LineChart.Draw(curve.Select(c => (double)c.Step).ToList(), curve.Select(c => (double)c.Mib).ToList(),
            $"resident memory while sampling ({configName}, batch {batch})", "decoding step", "MIB");
        Data.Images.Save(png, chart);
        var csv = Path.ChangeExtension(png, ".csv");
        File.WriteAllLines(csv, curve.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Step},{c.Mib},{c.Seconds:F3}")).Prepend("step,resident_mib,seconds"));
        AnsiConsole.MarkupLine($"memory curve: [bold]{Markup.Escape(png)}[/] and {Markup.Escape(csv)} (min {curve.Min(c => c.Mib):N0}, max {curve.Max(c => c.Mib):N0} MiB)");
    }

    /// <summary>
    /// FLOPs of one generator forward per image (multiply-add = 2): every 2-D weight acts once per token (input
    /// projection, attention projections, MLP, prediction layer; the class embedding is a lookup), plus the attention
    /// products QK^T and AV (2 x 2 N^2 d per layer), times the sequences per image (2 with guidance).
    /// </summary>
    static double GeneratorFlops(MaskedGenerator model, Config.MlmModelConfig mlm, int sequences)
    {
        double n = model.SeqLen;
        double perToken = model.named_parameters().Where(p => p.parameter.dim() == 2 && p.name != "class_emb.weight").Sum(p => (double)p.parameter.numel());
        return sequences * (2 * n * perToken + mlm.Depth * 4 * n * n * mlm.HiddenDim);
    }

    /// <summary>The fp32 matrix-multiply rate of the generator's widest product as its layer computes it (x [rows, d]
    /// times W^T, W [mlp, d]: the MLP's first layer for both sequences of an image) with <paramref name="linear"/>:
    /// with the generator's own path (<see cref="Blas.Linear"/>) the reference its achieved GFLOP/s are a share of.</summary>
    static double MatmulGflops(long rows, long d, long mlp, Device device, int repeats, Func<Tensor, Tensor, Tensor?, Tensor> linear)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (a, w) = (randn(rows, d, device: device), randn(mlp, d, device: device));
        linear(a, w, null).cpu(); // warm-up
        var times = new List<double>();
        for (int i = 0; i < Math.Max(3, repeats); i++)
        {
            int inner = 20;
            var sw = Stopwatch.StartNew();
            for (int k = 0; k < inner; k++) linear(a, w, null).Dispose();
            times.Add(sw.Elapsed.TotalSeconds / inner);
        }
        return 2.0 * rows * d * mlp / Median(times) / 1e9;
    }

    static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Seconds per Stage I training step (after one warm-up step) on random images: the full step, with the
    /// discriminator active (its start set to 0) and the perceptual network the config names (random weights).</summary>
    static int BenchTrainTokenizer(Config.ExperimentConfig cfg, string name, Device dev, int batch, int steps, bool json)
    {
        var losses = cfg.Losses ?? throw new ArgumentException($"{name}: no losses section (a tokenizer config is needed)");
        cfg = cfg with
        {
            Losses = losses with { DiscriminatorStart = 0 },
            Training = (cfg.Training ?? new()) with { PerGpuBatchSize = batch },
        };
        nn.Module<Tensor, Tensor, Tensor>? perceptual = losses.PerceptualWeight <= 0 ? null : losses.PerceptualLoss switch
        {
            "resnet50" => new MaskBit.Training.Losses.PerceptualLoss(new MaskBit.Networks.ResNet50(), losses.PerceptualLossOnLogits),
            "resnet18" => new MaskBit.Training.Losses.ResNet18PerceptualLoss(new MaskBit.Networks.ResNet18Cntk(), losses.PerceptualLossOnLogits),
            _ => null,
        };
        perceptual?.to(dev);
        using var training = new MaskBit.Training.TokenizerTraining(cfg, perceptual, dev);
        int size = cfg.Dataset?.Preprocessing?.Resolution ?? 256;
        var images = rand([batch, cfg.Model!.VqModel!.NumChannels, size, size], device: dev);
        training.Step([images]); // warm-up
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) training.Step([images]);
        double perStep = sw.Elapsed.TotalSeconds / steps;
        var table = new Table().AddColumns("measure", "value");
        table.AddRow("config", Markup.Escape(name));
        table.AddRow("device / threads", $"{dev} / {torch.get_num_threads()}");
        table.AddRow("tokenizer / discriminator parameters", $"{training.Model.parameters().Sum(p => p.numel()):N0} / {training.Loss.Discriminator.parameters().Sum(p => p.numel()):N0}");
        table.AddRow("batch, image size, perceptual", $"{batch}, {size}x{size}, {(perceptual is null ? "none" : "ResNet-50")}");
        table.AddRow("training step (generator + discriminator + EMA)", $"{perStep:F3} s ({1 / perStep:F2} steps/s, {batch / perStep:F1} images/s)");
        return WriteTrainingResult(table, "tokenizer", name, batch, perStep, json);
    }

    /// <summary>Seconds per Stage II training step (after one warm-up step) on random tokens and labels: split, mask,
    /// label dropout, forward, MLM loss, backward, clipping, AdamW, EMA.</summary>
    static int BenchTrainGenerator(Config.ExperimentConfig cfg, string name, Device dev, int batch, int steps, bool json)
    {
        var vq = cfg.Model?.VqModel ?? throw new ArgumentException($"{name}: config has no model.vq_model");
        var mlm = cfg.Model.MlmModel ?? throw new ArgumentException($"{name}: config has no model.mlm_model (a generator config is needed)");
        cfg = cfg with { Training = (cfg.Training ?? new()) with { PerGpuBatchSize = batch } };
        int size = cfg.Dataset?.Preprocessing?.Resolution ?? 256;
        manual_seed(0);
        using var model = GeneratorFactory.Create(mlm, vq, size);
        model.to(dev);
        using var training = new MaskBit.Training.GeneratorTraining(cfg, model);
        using var rng = new torch.Generator(0, dev);
        long tokensPerImage = (long)(size / vq.DownsamplingFactor) * (size / vq.DownsamplingFactor);
        var tokens = randint(0, vq.EffectiveCodebookSize, [batch, tokensPerImage], dtype: int64, device: dev);
        var labels = randint(0, 10, [batch], dtype: int64, device: dev); // any classes: the cost does not depend on them
        training.Step(tokens, labels, rng); // warm-up
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) training.Step(tokens, labels, rng);
        double perStep = sw.Elapsed.TotalSeconds / steps;
        var table = new Table().AddColumns("measure", "value");
        table.AddRow("config", Markup.Escape(name));
        table.AddRow("device / threads", $"{dev} / {torch.get_num_threads()}");
        table.AddRow("generator parameters", $"{model.parameters().Sum(p => p.numel()):N0}");
        table.AddRow("batch, tokens per image", $"{batch}, {tokensPerImage}");
        table.AddRow("training step (masking, forward, backward, AdamW, EMA)", $"{perStep:F3} s ({1 / perStep:F2} steps/s, {batch / perStep:F1} images/s)");
        return WriteTrainingResult(table, "generator", name, batch, perStep, json);
    }

    /// <summary>The training benchmarks' last rows and JSON line (<c>--json</c>).</summary>
    static int WriteTrainingResult(Table table, string stage, string config, int batch, double secondsPerStep, bool json)
    {
        table.AddRow("peak resident memory", $"{MachineInfo.PeakResidentMiB():N0} MiB");
        AnsiConsole.Write(table);
        if (json)
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["stage"] = stage,
                ["config"] = config,
                ["batch"] = batch,
                [$"train_{stage}_steps_per_s"] = 1 / secondsPerStep,
                ["train_images_per_s"] = batch / secondsPerStep,
                ["peak_rss_mib"] = MachineInfo.PeakResidentMiB(),
                ["threads"] = torch.get_num_threads(),
                ["cpu"] = MachineInfo.CpuModel(),
            }));
        return 0;
    }

    /// <summary>Inception 2048-d features + logits (float64, as the evaluators run it) of random uint8 256x256 images.</summary>
    static int BenchInception(Device dev, int batch, int repeats)
    {
        using var net = new MaskBit.Networks.InceptionV3();
        net.to(dev);
        using var _ = no_grad();
        var images = randint(0, 256, [batch, 3, 256, 256], dtype: uint8, device: dev);
        using (net.call(images)) { } // warm-up
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
            using (var f = net.call(images)) f.F2048.cpu().Dispose();
        double seconds = sw.Elapsed.TotalSeconds;
        var table = new Table().AddColumns("measure", "value");
        table.AddRow("device / threads", $"{dev} / {torch.get_num_threads()}");
        table.AddRow("batch x repeats", $"{batch} x {repeats} (256x256 -> 299x299, float64)");
        table.AddRow("Inception features", $"{batch * repeats / seconds:F2} images/s");
        AnsiConsole.Write(table);
        return 0;
    }
}
