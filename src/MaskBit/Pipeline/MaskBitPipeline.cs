using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Tokenizer;

namespace MaskBit.Pipeline;

/// <summary>Where a <see cref="MaskBitPipeline.Generate"/> call stands: after decoding step <c>Step</c> of
/// <c>Steps</c> in batch <c>Batch</c> (1-based) of <c>Batches</c>.</summary>
public readonly record struct GenerationProgress(int Step, int Steps, int Batch, int Batches);

/// <summary>
/// Generated images [N, 3, H, W] float32 in [0, 1] on the CPU, their token grids [N, h*w] int64 (row-major) and the
/// class of each image, in request order (class-major: all images of the first class, then the next).
/// </summary>
public sealed class GenerationResult(Tensor images, Tensor tokens, IReadOnlyList<int> labels) : IDisposable
{
    public Tensor Images { get; } = images;
    public Tensor Tokens { get; } = tokens;
    public IReadOnlyList<int> Labels { get; } = labels;

    public void Dispose()
    {
        Images.Dispose();
        Tokens.Dispose();
    }
}

/// <summary>
/// Tokenizer and generator with everything needed to use them: the config they were built from, the class names, the
/// sampling defaults (<c>model.mlm_model</c>) and the device. Load it from a model folder (<see cref="FromFolder"/>) or
/// from a config plus weight files (<see cref="Load(string, string, string?, IEnumerable{string}?, Device?)"/>, the
/// released <c>.bin</c> files); save it as a model folder with <see cref="Save"/>. Inputs may live on any device;
/// outputs are on the CPU. Dispose it to free the models' native memory.
/// </summary>
public sealed class MaskBitPipeline : IDisposable
{
    /// <summary>The config (with any overrides applied).</summary>
    public ExperimentConfig Config { get; }
    public ITokenizer Tokenizer { get; }
    /// <summary>Null for a tokenizer-only pipeline, and after <see cref="ReleaseGenerator"/>.</summary>
    public MaskedGenerator? Generator { get; private set; }
    public ClassNames Classes { get; }
    /// <summary>The config's sampling settings, what <see cref="Generate"/> uses when given none.</summary>
    public SamplingOptions Sampling { get; }
    public Device Device { get; }
    /// <summary>Side of the square images the models work on (<c>dataset.preprocessing.resolution</c>, else 256).</summary>
    public int ImageSize { get; }
    /// <summary>Images per forward pass in <see cref="Tokenize"/>, <see cref="Detokenize"/> and <see cref="Reconstruct"/>.</summary>
    public int BatchSize
    {
        get => _batchSize;
        set => _batchSize = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(BatchSize), $"batch size must be >= 1, got {value}");
    }
    int _batchSize = 8;

    public long CodebookSize => Tokenizer.Quantize.CodebookSize;
    /// <summary>Bits K per token (codebook size 2^K).</summary>
    public int TokenBits => System.Numerics.BitOperations.Log2((ulong)CodebookSize);
    /// <summary>Side of the token grid: <see cref="ImageSize"/> / f.</summary>
    public int TokenGridSize => ImageSize / Tokenizer.DownsamplingFactor;

    MaskBitPipeline(ExperimentConfig config, ITokenizer tokenizer, MaskedGenerator? generator, ClassNames? classes, Device device)
    {
        Config = config;
        Tokenizer = tokenizer;
        Generator = generator;
        Device = device;
        ImageSize = config.Resolution;
        Sampling = (config.Model?.MlmModel?.Sampling ?? new SamplingOptions()).Validate();
        if (generator is not null)
        {
            if (CodebookSize != 1L << generator.Bits)
                throw new ArgumentException($"the tokenizer has {CodebookSize} codes, the generator predicts {generator.Bits}-bit tokens");
            classes ??= generator.NClass == ClassNames.ImageNet.Count ? ClassNames.ImageNet
                : new ClassNames(Enumerable.Range(0, generator.NClass).Select(i => $"class {i}"), "generator");
            if (classes.Count != generator.NClass)
                throw new ArgumentException($"{classes.Count} class names for a generator of {generator.NClass} classes");
        }
        Classes = classes ?? ClassNames.ImageNet;
    }

    /// <summary>
    /// Loads a config (with dotted <paramref name="overrides"/>), its tokenizer and optionally its generator from
    /// PyTorch (<c>.bin</c>/<c>.pt</c>/<c>.ckpt</c>) or safetensors files, strictly, in eval mode.
    /// </summary>
    public static MaskBitPipeline Load(string configPath, string tokenizerPath, string? generatorPath = null,
        IEnumerable<string>? overrides = null, Device? device = null) =>
        Load(ConfigLoader.Load(configPath, overrides), tokenizerPath, generatorPath, device);

    /// <summary>The same with the config already loaded; <paramref name="classes"/> defaults to the ImageNet names.</summary>
    public static MaskBitPipeline Load(ExperimentConfig config, string tokenizerPath, string? generatorPath = null,
        Device? device = null, ClassNames? classes = null)
    {
        var vq = VqModel(config, "config");
        // The generator first: its file says which token width it was trained for, the clearest mismatch message.
        MaskedGenerator? generator = null;
        if (generatorPath is not null)
        {
            using var file = StateDictFile.Open(generatorPath);
            generator = LoadGenerator(config, vq, file, device);
        }
        try
        {
            var tokenizer = TokenizerFactory.Load(vq, tokenizerPath, device);
            return new MaskBitPipeline(config, tokenizer, generator, classes, device ?? CPU);
        }
        catch
        {
            generator?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a model folder (<see cref="ModelFolder"/>): <c>config.yaml</c> (with dotted <paramref name="overrides"/>),
    /// <c>tokenizer.safetensors</c>, <c>generator.safetensors</c> when present, <c>classes.txt</c> when present.
    /// A missing file, a file whose SHA-256 differs from the folder's <c>SHA256SUMS</c> (unless
    /// <paramref name="skipDigests"/>), or files that do not fit each other end in one error naming the file.
    /// </summary>
    public static MaskBitPipeline FromFolder(string path, Device? device = null, IEnumerable<string>? overrides = null, bool skipDigests = false)
    {
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{path}: model folder not found");
        string File(string name) => Path.Combine(path, name);
        if (!System.IO.File.Exists(File(ModelFolder.ConfigFile)))
            throw new FileNotFoundException($"{path}: not a model folder (no {ModelFolder.ConfigFile})");
        if (!System.IO.File.Exists(File(ModelFolder.TokenizerFile)))
            throw new FileNotFoundException($"{path}: model folder has no {ModelFolder.TokenizerFile}");
        FileDigests.Verify(path, skipDigests);
        var config = ConfigLoader.Load(File(ModelFolder.ConfigFile), overrides);
        var vq = VqModel(config, File(ModelFolder.ConfigFile));
        var classes = System.IO.File.Exists(File(ModelFolder.ClassesFile)) ? ClassNames.Read(File(ModelFolder.ClassesFile)) : null;

        MaskedGenerator? generator = null;
        if (System.IO.File.Exists(File(ModelFolder.GeneratorFile)))
        {
            using var file = Checkpoint.OpenSafeTensors(File(ModelFolder.GeneratorFile));
            ModelFolder.CheckMetadata(file.Path, file.Metadata, "generator", vq.EffectiveCodebookSize);
            generator = LoadGenerator(config, vq, file, device);
        }
        try
        {
            using var file = Checkpoint.OpenSafeTensors(File(ModelFolder.TokenizerFile));
            ModelFolder.CheckMetadata(file.Path, file.Metadata, "tokenizer", vq.EffectiveCodebookSize);
            var tokenizer = TokenizerFactory.Load(vq, file, device);
            if (generator is not null && classes is not null && classes.Count != generator.NClass)
                throw new ArgumentException($"{File(ModelFolder.ClassesFile)}: {classes.Count} classes, but {ModelFolder.GeneratorFile} has {generator.NClass}");
            return new MaskBitPipeline(config, tokenizer, generator, classes, device ?? CPU);
        }
        catch
        {
            generator?.Dispose();
            throw;
        }
    }

    static VqModelConfig VqModel(ExperimentConfig config, string source) =>
        config.Model?.VqModel ?? throw new ConfigException($"{source}: no model.vq_model section");

    static MaskedGenerator LoadGenerator(ExperimentConfig config, VqModelConfig vq, StateDictFile weights, Device? device)
    {
        var mlm = config.Model?.MlmModel
            ?? throw new ConfigException($"{weights.Path}: a generator needs a model.mlm_model section in the config (use a generator or demo config)");
        return GeneratorFactory.Load(mlm, vq, config.Resolution, weights, device);
    }

    /// <summary>
    /// Writes this pipeline as a model folder (atomically; an existing non-empty folder is refused). The generator is
    /// stored in the released key naming, so the original's loaders read it after a safetensors-to-bin conversion.
    /// </summary>
    /// <param name="card">The model card (README.md); a minimal one naming the models when null.</param>
    public void Save(string path, string? card = null) => ModelFolder.WriteAtomically(path, dir =>
    {
        ConfigWriter.Save(Config, Path.Combine(dir, ModelFolder.ConfigFile));
        Checkpoint.WriteStateDict(Path.Combine(dir, ModelFolder.TokenizerFile), StateDict(Tokenizer.Module, null),
            ModelFolder.Metadata("tokenizer", CodebookSize));
        if (Generator is not null)
        {
            Checkpoint.WriteStateDict(Path.Combine(dir, ModelFolder.GeneratorFile), StateDict(Generator, Generator.SavingKeyRenames),
                ModelFolder.Metadata("generator", CodebookSize));
            if (!ReferenceEquals(Classes, ClassNames.ImageNet)) Classes.Save(Path.Combine(dir, ModelFolder.ClassesFile));
        }
        AtomicFile.WriteAllText(Path.Combine(dir, ModelFolder.CardFile), card ?? DefaultCard());
    });

    static IEnumerable<KeyValuePair<string, Tensor>> StateDict(nn.Module module, IReadOnlyDictionary<string, string>? renames) =>
        Checkpoint.StateDict(module).Select(e => KeyValuePair.Create(Checkpoint.RenameKey(e.Key, renames), e.Tensor));

    string DefaultCard()
    {
        var vq = Config.Model!.VqModel!;
        var mlm = Config.Model.MlmModel;
        var lines = new List<string>
        {
            $"# {Config.Experiment?.Name ?? "MaskBit model"}",
            "",
            $"- Tokenizer: {vq.ModelClass}, {vq.QuantizerType} quantizer, {CodebookSize} codes ({System.Numerics.BitOperations.Log2((ulong)CodebookSize)}-bit tokens), {ImageSize}x{ImageSize} images, {TokenGridSize}x{TokenGridSize} tokens.",
        };
        if (Generator is not null && mlm is not null)
            lines.Add($"- Generator: {mlm.ModelCls}, {mlm.Depth} layers, width {mlm.HiddenDim}, {mlm.CodebookSplits} split(s), {Classes.Count} classes; sampling: {Sampling.NumSteps} steps, guidance {Sampling.GuidanceScale} ({Sampling.GuidanceAnnealing}).");
        lines.Add("");
        lines.Add("Use: `maskbit generate --model DIR` or `MaskBitPipeline.FromFolder(DIR)`.");
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>
    /// The classes to generate when none are asked for: for ImageNet the original's ten demo labels (the tenth drawn
    /// from <paramref name="seed"/>), else every class once.
    /// </summary>
    public IReadOnlyList<int> DefaultClasses(ulong seed)
    {
        if (!ReferenceEquals(Classes, ClassNames.ImageNet)) return Enumerable.Range(0, Classes.Count).ToList();
        using var rng = new torch.Generator(seed);
        using var labels = Sampler.DefaultLabels(10, rng);
        return labels.data<long>().Select(l => (int)l).ToList();
    }

    /// <summary>
    /// Class-conditional generation: <paramref name="perClass"/> images of each class, sampled in batches of
    /// <paramref name="batchSize"/> with <paramref name="options"/> (default: <see cref="Sampling"/>) and decoded in
    /// batches of the same size. The same seed, options and batch size give the same images. <paramref name="onProgress"/>
    /// sees every decoding step, <paramref name="onDecoded"/> the images of each decoded batch;
    /// <paramref name="cancellationToken"/> is checked at every step. <paramref name="releaseGenerator"/> frees the
    /// generator once all tokens are sampled (<see cref="ReleaseGenerator"/>): the peak memory is then the larger of the
    /// two phases, not their sum (what <c>maskbit generate</c> does; the images are the same).
    /// </summary>
    public GenerationResult Generate(IReadOnlyList<int> classes, int perClass = 1, SamplingOptions? options = null, ulong seed = 42,
        int batchSize = 8, Action<GenerationProgress>? onProgress = null, CancellationToken cancellationToken = default,
        bool releaseGenerator = false, Action<int>? onDecoded = null)
    {
        var (tokens, labels) = SampleTokens(classes, perClass, options, seed, batchSize, onProgress, cancellationToken);
        try
        {
            if (releaseGenerator) ReleaseGenerator();
            var images = Batched(tokens, t => Tokenizer.DecodeTokens(t).clamp(Const(0), Const(1)), batchSize, onDecoded);
            return new GenerationResult(images, tokens, labels);
        }
        catch
        {
            tokens.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The sampling half of <see cref="Generate"/> (same arguments, same tokens): token grids [N, h*w] int64 on the CPU
    /// and the class of each, in request order, not decoded. With <see cref="ReleaseGenerator"/> and
    /// <see cref="Detokenize"/> after it, the generator's and the decoder's memory are never needed at the same time.
    /// </summary>
    /// <param name="onPrediction">Sees every step's prediction of its batch: token grids [b, h*w] int64 on the CPU, every
    /// token filled (the ones already fixed and this step's samples; the last step's is the result), valid during the call.</param>
    public (Tensor Tokens, IReadOnlyList<int> Labels) SampleTokens(IReadOnlyList<int> classes, int perClass = 1, SamplingOptions? options = null,
        ulong seed = 42, int batchSize = 8, Action<GenerationProgress>? onProgress = null, CancellationToken cancellationToken = default,
        Action<GenerationProgress, Tensor>? onPrediction = null)
    {
        var generator = Generator ?? throw new InvalidOperationException("this pipeline has no generator (a tokenizer-only model, or ReleaseGenerator was called)");
        options = (options ?? Sampling).Validate();
        if (perClass < 1) throw new ArgumentOutOfRangeException(nameof(perClass), $"images per class must be >= 1, got {perClass}");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be >= 1, got {batchSize}");
        if (classes.Count == 0) throw new ArgumentException("no classes to generate");
        foreach (var c in classes)
            if (c < 0 || c >= generator.NClass) throw new ArgumentException($"class {c} is out of range: the generator has {generator.NClass} classes (0..{generator.NClass - 1})");

        var labels = classes.SelectMany(c => Enumerable.Repeat(c, perClass)).ToList();
        var chunks = labels.Chunk(batchSize).ToList();
        using var noise = new SeededSamplerNoise(seed, Device);
        var sampler = new Sampler(generator, options, noise);
        var tokens = new List<Tensor>();
        try
        {
            for (int b = 0; b < chunks.Count; b++)
            {
                using var scope = NewDisposeScope();
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = chunks[b];
                var result = sampler.Sample(chunk.Length, tensor(chunk.Select(c => (long)c).ToArray()), step =>
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var progress = new GenerationProgress(step.Index + 1, options.NumSteps, b + 1, chunks.Count);
                    onProgress?.Invoke(progress);
                    if (onPrediction is not null)
                        onPrediction(progress, Factorization.CombineToLong(step.Pred, 1 << generator.Bits, generator.Splits).cpu());
                });
                tokens.Add(result.Tokens.cpu().MoveToOuterDisposeScope());
            }
            return (cat(tokens, 0), labels);
        }
        finally
        {
            foreach (var t in tokens) t.Dispose();
        }
    }

    /// <summary>
    /// Frees the generator's weights (1.2 GB for the official model) while the tokenizer stays: for a program that has
    /// sampled its tokens (<see cref="SampleTokens"/>) and now only decodes, so that decoding's activations do not
    /// come on top of the generator (<see cref="Generate"/> with <c>releaseGenerator</c> does it). Generating afterwards throws.
    /// </summary>
    public void ReleaseGenerator()
    {
        Generator?.Dispose();
        Generator = null;
    }

    /// <summary>Image files as the model sees them: the original's evaluation transform (resize the shorter side,
    /// centre crop to <see cref="ImageSize"/>, the config's interpolation) -> [N, 3, S, S] in [0, 1] on the CPU.</summary>
    public Tensor ReadImages(IEnumerable<string> files) => ReadImages(files.Select(Images.Read));

    /// <summary>Decoded images as the model sees them (as <see cref="ReadImages(IEnumerable{string})"/>) -> [N, 3, S, S].</summary>
    public Tensor ReadImages(IEnumerable<RgbImage> images)
    {
        using var scope = NewDisposeScope();
        return stack(images.Select(i => Images.EvalTransform(i, ImageSize, Interpolation))).MoveToOuterDisposeScope();
    }

    /// <summary>A decoded image resized and centre-cropped as <see cref="ReadImages(IEnumerable{RgbImage})"/> does, still 8-bit: what every edit sees.</summary>
    public RgbImage ModelView(RgbImage image) => Images.EvalCrop(image, ImageSize, Interpolation);

    Interpolation Interpolation => Images.ParseInterpolation(Config.Dataset?.Preprocessing?.Interpolation ?? "bilinear");

    /// <summary>images [B, 3, H, W] in [0, 1] -> token indices [B, h*w] int64 (row-major), on the CPU.</summary>
    public Tensor Tokenize(Tensor images) => Batched(CheckImages(images), x => Tokenizer.Tokenize(x));

    /// <summary>tokens [B, h*w] int64 (a square grid) or [B, h, w] (any grid, e.g. an outpainted one) -> images
    /// [B, 3, h*f, w*f] in [0, 1] (clamped), on the CPU.</summary>
    public Tensor Detokenize(Tensor tokens)
    {
        if (tokens.ndim is not (2 or 3)) throw new ArgumentException($"expected tokens [B, h*w] or [B, h, w], got [{string.Join(", ", tokens.shape)}]");
        using (var scope = NewDisposeScope())
            if (tokens.numel() > 0 && (tokens.min().item<long>() < 0 || tokens.max().item<long>() >= CodebookSize))
                throw new ArgumentException($"token indices must be in 0..{CodebookSize - 1} (the tokenizer's codebook), got {tokens.min().item<long>()}..{tokens.max().item<long>()}");
        return Batched(tokens, t => (t.ndim == 2 ? Tokenizer.DecodeTokens(t) : Tokenizer.DecodeTokenGrid(t)).clamp(Const(0), Const(1)));
    }

    /// <summary>
    /// The tokenizer's round trip (the original's <c>forward</c>): images [B, 3, H, W] in [0, 1] -> reconstructions
    /// [B, 3, H, W] in [0, 1] (clamped) and the token indices [B, h*w], on the CPU.
    /// </summary>
    public (Tensor reconstructions, Tensor tokens) Reconstruct(Tensor images)
    {
        CheckImages(images);
        var tokens = new List<Tensor>();
        try
        {
            var recon = Batched(images, x =>
            {
                var (decoded, result) = Tokenizer.Reconstruct(x);
                var idx = result.MinEncodingIndices;
                tokens.Add(idx.reshape(idx.shape[0], -1).cpu().DetachFromDisposeScope());
                return decoded.clamp(Const(0), Const(1));
            });
            return (recon, cat(tokens, 0));
        }
        finally
        {
            foreach (var t in tokens) t.Dispose();
        }
    }

    Tensor CheckImages(Tensor images) =>
        images.ndim == 4 && images.shape[1] == 3 ? images
            : throw new ArgumentException($"expected images [B, 3, H, W], got [{string.Join(", ", images.shape)}]");

    // Runs f over chunks of batchSize (default BatchSize) on the pipeline's device, without gradients; the results,
    // concatenated, on the CPU. onChunk sees the size of each chunk done.
    Tensor Batched(Tensor input, Func<Tensor, Tensor> f, int? batchSize = null, Action<int>? onChunk = null)
    {
        int size = batchSize ?? BatchSize;
        var parts = new List<Tensor>();
        try
        {
            using var _ = no_grad();
            for (long start = 0; start < input.shape[0]; start += size)
            {
                using var scope = NewDisposeScope();
                var chunk = input.narrow(0, start, Math.Min(size, input.shape[0] - start)).to(Device);
                parts.Add(f(chunk).cpu().MoveToOuterDisposeScope());
                onChunk?.Invoke((int)chunk.shape[0]);
            }
            using var outer = NewDisposeScope();
            return cat(parts, 0).MoveToOuterDisposeScope();
        }
        finally
        {
            foreach (var t in parts) t.Dispose();
        }
    }

    public void Dispose()
    {
        Tokenizer.Module.Dispose();
        Generator?.Dispose();
    }
}
