using System.Diagnostics;
using System.Globalization;
using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Native;
using MaskBit.Tokenizer;

namespace MaskBit.Benchmarks;

/// <summary>The resident memory after decoding step <paramref name="Step"/> (0: before the first) and that step's seconds.</summary>
public readonly record struct MemoryPoint(int Step, long Mib, double Seconds);

/// <summary>
/// Speed and peak memory of generation with the full-size models of a config, randomly initialised (no weights needed;
/// the cost does not depend on the values): sampling, decoding tokens to images, tokenizer encode/decode, and the
/// generator's achieved GFLOP/s against the machine's fp32 matrix-multiply rate. Medians over the repeats, after one
/// warm-up step. The README's figures come from here (docs/performance.md), never from unit tests.
/// </summary>
public static class GenerationBenchmark
{
    /// <param name="curve">When given, filled with the resident memory at every decoding step of the first timed call.</param>
    public static BenchmarkReport Run(ExperimentConfig cfg, string configName, Device dev, int batch, int steps, int repeats, List<MemoryPoint>? curve = null)
    {
        var vq = cfg.Model?.VqModel ?? throw new ArgumentException("config has no model.vq_model");
        var mlm = cfg.Model.MlmModel ?? throw new ArgumentException("config has no model.mlm_model");
        int size = cfg.Resolution;
        manual_seed(0);
        var tokenizer = TokenizerFactory.Create(vq);
        using var tokenizerModule = tokenizer.Module;
        tokenizerModule.to(dev).eval();
        using var model = GeneratorFactory.Create(mlm, vq, size);
        model.to(dev).eval();
        long genParams = model.parameters().Sum(p => p.numel()), tokParams = tokenizerModule.parameters().Sum(p => p.numel());
        var options = mlm.Sampling with { NumSteps = steps };
        using var noise = new SeededSamplerNoise(0, dev);
        using var labels = arange(Const(0L), Const((long)batch), One, dtype: int64);

        // Warm-up: one step (allocator, kernels) and one encode/decode.
        using (NewDisposeScope()) new Sampler(model, options with { NumSteps = 1 }, noise).Sample(batch, labels);
        var sampler = new Sampler(model, options, noise);
        using var x = rand(batch, 3, size, size, device: dev);
        using (NewDisposeScope())
        using (no_grad()) tokenizer.Decode(tokenizer.Encode(x).Quantized);
        var (sample, decodeTokens, encode, decode) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        curve?.Add(new MemoryPoint(0, MachineInfo.ResidentMiB(), 0));
        var stepClock = new Stopwatch();
        for (int i = 0; i < repeats; i++)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            // Each step's seconds run from the previous step's callback: its forward and what the sampler did after the previous one.
            Action<SamplerStep>? record = i == 0 && curve is not null ? s => { curve.Add(new MemoryPoint(s.Index + 1, MachineInfo.ResidentMiB(), stepClock.Elapsed.TotalSeconds)); stepClock.Restart(); } : null;
            stepClock.Restart();
            sample.Add(Measure.Seconds(() => sampler.Sample(batch, labels, record).Tokens, out var tokens) / batch);
            decodeTokens.Add(Measure.Seconds(() => tokenizer.DecodeTokens(tokens).cpu(), out _) / batch);
            encode.Add(Measure.Seconds(() => tokenizer.Encode(x).Quantized, out var z) / batch);
            decode.Add(Measure.Seconds(() => tokenizer.Decode(z).cpu(), out _) / batch);
        }
        double stepSeconds = Measure.Median(sample) / steps;
        double matmul = MatmulGflops(model.SeqLen * 2, mlm.HiddenDim, mlm.MlpDim, dev, repeats, Blas.Linear);
        // Without an external BLAS the generator's path is libtorch's: one measurement serves both fields.
        double libtorchMatmul = Blas.Backend == "libtorch" ? matmul
            : MatmulGflops(model.SeqLen * 2, mlm.HiddenDim, mlm.MlpDim, dev, repeats, F.linear);
        double generatorGflops = GeneratorFlops(model, mlm, sequences: options.GuidanceScale != 0 ? 2 : 1) / stepSeconds / 1e9;
        var (decodeS, encodeS, tokDecodeS) = (Measure.Median(decodeTokens), Measure.Median(encode), Measure.Median(decode));
        var json = new Dictionary<string, object>
        {
            ["generator_s_per_image_step"] = stepSeconds,
            ["decode_s_per_image"] = decodeS,
            ["tokenizer_encode_s_per_image"] = encodeS,
            ["tokenizer_decode_s_per_image"] = tokDecodeS,
            ["peak_rss_mib"] = MachineInfo.PeakResidentMiB(),
            ["threads"] = get_num_threads(),
            ["cpu"] = MachineInfo.CpuModel(),
            ["blas"] = Blas.Backend,
            ["matmul_gflops"] = matmul,
            ["libtorch_matmul_gflops"] = libtorchMatmul,
            ["generator_gflops"] = generatorGflops,
        };
        return BenchmarkReport.Of($"value (median of {repeats})",
        [
            ("config", configName),
            ("cpu / device / threads", $"{json["cpu"]} / {dev} / {json["threads"]}"),
            ("generator / tokenizer parameters", $"{genParams:N0} / {tokParams:N0}"),
            ("batch, steps", $"{batch}, {steps} (guidance: 2 x {batch} sequences per forward)"),
            ("sampling, s per image", $"{stepSeconds * steps:F2}"),
            ("sampling, s per image and step", $"{stepSeconds:F3}"),
            ("decode tokens -> image, s per image", $"{decodeS:F2}"),
            ("total, s per image", $"{stepSeconds * steps + decodeS:F2}"),
            ($"tokenizer encode / decode {size}x{size}, s per image", $"{encodeS:F2} / {tokDecodeS:F2}"),
            ("peak resident memory", $"{json["peak_rss_mib"]:N0} MiB"),
            ("matrix multiplies (BLAS)", Blas.Backend),
            ("generator GFLOP/s / fp32 matmul GFLOP/s", $"{generatorGflops:F0} / {matmul:F0} ({generatorGflops / matmul:P0}; libtorch's matmul: {libtorchMatmul:F0})"),
        ], json);
    }

    /// <summary>The memory curve as a chart (PNG) and a CSV beside it (same name, .csv: step, resident MiB, seconds).</summary>
    public static void WriteMemoryCurve(string png, IReadOnlyList<MemoryPoint> curve, string configName, int batch)
    {
        var chart = LineChart.Draw(curve.Select(c => (double)c.Step).ToList(), curve.Select(c => (double)c.Mib).ToList(),
            $"resident memory while sampling ({configName}, batch {batch})", "decoding step", "MIB");
        Images.Save(png, chart);
        File.WriteAllLines(Path.ChangeExtension(png, ".csv"),
            curve.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Step},{c.Mib},{c.Seconds:F3}")).Prepend("step,resident_mib,seconds"));
    }

    /// <summary>
    /// FLOPs of one generator forward per image (multiply-add = 2): every 2-D weight acts once per token (input
    /// projection, attention projections, MLP, prediction layer; the class embedding is a lookup), plus the attention
    /// products QK^T and AV (2 x 2 N^2 d per layer), times the sequences per image (2 with guidance).
    /// </summary>
    public static double GeneratorFlops(MaskedGenerator model, MlmModelConfig mlm, int sequences)
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
            const int inner = 20;
            times.Add(Measure.Seconds(() => { for (int k = 0; k < inner; k++) linear(a, w, null).Dispose(); }) / inner);
        }
        return 2.0 * rows * d * mlp / Measure.Median(times) / 1e9;
    }
}
