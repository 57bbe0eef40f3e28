using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Evaluation;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Networks;
using MaskBit.Pipeline;
using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using MaskBit.Tests.Pipeline;
using MaskBit.Tokenizer;
using MaskBit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Nn;

/// <summary>
/// The hot paths of the library under garbage-collector pressure (<see cref="GcPressure"/>): TorchSharp hands
/// <c>Scalar.Handle</c> and <c>Tensor.Handle</c> to libtorch without keeping the object alive, so a collection on
/// another thread can free a temporary while libtorch reads it ("Unknown scalar type", "Expected false to be true",
/// a segfault). Each test runs its path for hundreds of steps and checks that the results are those of a quiet run
/// (outputs identical, losses finite). Category <c>GcStress</c>; run alone, since they stress the whole process.
/// </summary>
[Collection(Name)]
[Trait("Category", "GcStress")]
public class GcStressTests : IDisposable
{
    public const string Name = "gc stress";

    // One torch thread for the quiet reference and the pressured run alike (their results compare bit for bit): the
    // pressure thread spins on the other core.
    readonly int _threads = get_num_threads();
    public GcStressTests() => set_num_threads(1);
    public void Dispose() => set_num_threads(_threads);

    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class Definition;

    /// <summary>The tiny tokenizer preset: 32x32 images -> 8x8 tokens of 10 bits, its 3-stage discriminator.</summary>
    static ExperimentConfig TokenizerConfig(params string[] extra) =>
        ConfigLoader.Load(Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml"),
            ["losses.perceptual_loss=none", "losses.discriminator_start=0", "training.max_train_steps=100000", .. extra]);

    static ExperimentConfig GeneratorConfig() =>
        ConfigLoader.Load(Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml"), []);

    static MaskedGenerator Generator()
    {
        var c = GeneratorConfig();
        manual_seed(5);
        return GeneratorFactory.Create(c.Model!.MlmModel!, c.Model.VqModel!, 32);
    }

    /// <summary>
    /// Runs <paramref name="iteration"/> <paramref name="count"/> times under pressure, outside any dispose scope as a
    /// caller of the library would, and checks that the pressure collected and that the library made no tensor outside
    /// a dispose scope (such a tensor is garbage the finalizer frees at random, possibly during a native call).
    /// </summary>
    static void UnderPressure(int count, Action<int> iteration)
    {
        var stats = DisposeScopeManager.Statistics;
        long outsideBefore = stats.CreatedOutsideScopeCount;
        int gen0;
        using (var pressure = new GcPressure())
        {
            for (int i = 0; i < count; i++) iteration(i);
            gen0 = pressure.Gen0Collections;
        }
        Assert.True(gen0 >= Math.Max(100, count / 4), $"only {gen0} collections in {count} iterations: the pressure did not work");
        Assert.Equal(0, stats.CreatedOutsideScopeCount - outsideBefore);
    }

    static void AssertEqual(Tensor expected, Tensor actual, string what)
    {
        using var scope = NewDisposeScope();
        Assert.True(expected.shape.SequenceEqual(actual.shape) && expected.equal(actual).all().item<bool>(), $"{what} differs from the quiet run");
    }

    [Fact]
    public void StageIStepsWithTheDiscriminatorActive()
    {
        using var training = new TokenizerTraining(TokenizerConfig());
        var batch = rand(new long[] { 2, 3, 32, 32 }, generator: new Generator(1));
        UnderPressure(300, _ =>
        {
            var logs = training.Step([batch]);
            Assert.Contains(logs.Keys, k => k.StartsWith("disc."));
            Assert.All(logs, kv => Assert.True(double.IsFinite(kv.Value), $"{kv.Key} = {kv.Value}"));
        });
        Assert.Equal(300, training.GlobalStep);
    }

    [Fact]
    public void StageIISteps()
    {
        using var training = new GeneratorTraining(GeneratorConfig(), Generator());
        var rng = new Generator(2);
        var tokens = randint(0, 1024, new long[] { 8, 64 }, generator: rng);
        var labels = randint(0, 1000, new long[] { 8 }, generator: rng);
        UnderPressure(300, _ =>
        {
            var logs = training.Step(tokens, labels, rng);
            Assert.All(logs, kv => Assert.True(double.IsFinite(kv.Value), $"{kv.Key} = {kv.Value}"));
        });
    }

    static void Dispose(SampleResult r)
    {
        r.SplitTokens.Dispose();
        r.Tokens.Dispose();
        foreach (var t in r.History) t.Dispose();
    }

    /// <summary>125 sampler calls of 16 steps (2,000 decoding steps) under pressure, each equal to the quiet call.</summary>
    static void DecodingUnderPressure(Func<SampleResult> run, string what)
    {
        var expected = run();
        UnderPressure(125, _ =>
        {
            var r = run();
            AssertEqual(expected.Tokens, r.Tokens, what);
            Dispose(r);
        });
        Dispose(expected);
    }

    [Fact]
    public void SamplerDecodingLoop()
    {
        using var model = Generator();
        var options = new SamplingOptions { NumSteps = 16, GuidanceScale = 3.0, GuidanceAnnealing = "cosine", RandomizeTemperature = 2.0 };
        using var labels = tensor(new long[] { 3, 141 });
        SampleResult Run()
        {
            using var noise = new SeededSamplerNoise(7);
            return new Sampler(model, options, noise).Sample(2, labels);
        }
        DecodingUnderPressure(Run, "sampled tokens");
    }

    [Fact]
    public void SamplerCompleteForEditing()
    {
        using var model = Generator();
        var options = new SamplingOptions { NumSteps = 16, GuidanceScale = 2.0 };
        using var start = randint(0, 32, new long[] { 2, 64, 2 }, generator: new Generator(3));
        start[.., ..40] = model.MaskToken;
        using var labels = tensor(new long[] { 1, 2 });
        SampleResult Run()
        {
            using var noise = new SeededSamplerNoise(8);
            return new Sampler(model, options, noise).Complete(start, labels);
        }
        DecodingUnderPressure(Run, "completed tokens");
    }

    /// <summary>The pipeline's Tokenize and Detokenize on the golden tiny tokenizer (case A: 32x32 -> 8x8 tokens).</summary>
    [Fact]
    public void TokenizerEncodeAndDecode()
    {
        using var pipeline = MaskBitPipeline.Load(MaskBitPipelineTests.Config, MaskBitPipelineTests.TokenizerFile);
        using var x = rand(new long[] { 2, 3, 32, 32 }, generator: new Generator(4));
        using var expectedTokens = pipeline.Tokenize(x);
        using var expectedImages = pipeline.Detokenize(expectedTokens);
        UnderPressure(300, _ =>
        {
            using var tokens = pipeline.Tokenize(x);
            using var images = pipeline.Detokenize(tokens);
            AssertEqual(expectedTokens, tokens, "tokens");
            AssertEqual(expectedImages, images, "decoded images");
        });
    }

    [Fact]
    public void EvaluationNetworksAndMetrics()
    {
        manual_seed(6);
        using var classifier = new SampleClassifier(10);
        using var lpips = new Lpips();
        using var inception = new InceptionV3();
        classifier.eval();
        lpips.eval();
        inception.eval();
        using var real = rand(new long[] { 2, 3, 32, 32 }, generator: new Generator(5));
        using var fake = rand(new long[] { 2, 3, 32, 32 }, generator: new Generator(6));
        using var indices = randint(0, 1024, new long[] { 2, 8, 8 }, generator: new Generator(7));
        Tensor Run(bool withInception)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var parts = new List<Tensor> { classifier.Features(real).flatten(), lpips.call(real, fake).flatten(),
                ImageMetrics.Psnr(real, fake).flatten(), ImageMetrics.Ssim(real, fake).flatten() };
            using var evaluator = new TokenizerEvaluator(1024);
            evaluator.Update(real, fake, indices);
            var r = evaluator.Result();
            parts.Add(tensor(new[] { r.Mae, r.Mse, r.Psnr, r.Ssim }));
            if (withInception)
            {
                using var f = inception.call(InceptionV3.ToUint8(real));
                parts.Add(f.F2048.flatten());
                parts.Add(f.Logits.flatten());
            }
            return cat(parts.Select(p => p.to(float64)).ToList(), 0).MoveToOuterDisposeScope();
        }
        using var expected = Run(true);
        using var expectedQuick = Run(false);
        UnderPressure(200, i =>
        {
            using var got = Run(i % 50 == 0);
            AssertEqual(i % 50 == 0 ? expected : expectedQuick, got, "features and metrics");
        });
    }

    /// <summary>count random 64x48 PNGs in 4 class folders (the loader's workers decode, crop and resize each).</summary>
    static void ImageFolder(string root, int count)
    {
        for (int i = 0; i < count; i++)
            Images.Save(Path.Combine(root, $"class{i % 4}", $"img{i}.png"), DataFixtures.RandomImage(64, 48, i));
    }

    [Fact]
    public void ImageLoaderWithWorkerThreads()
    {
        using var tmp = new CliRunner.TempDir();
        ImageFolder(tmp["images"], 24);
        var dataset = new ImageFolderDataset(tmp["images"]);
        var transform = new ImageTransform(32, Interpolation.Bilinear, randomCrop: true);
        var options = new LoaderOptions { BatchSize = 8, Workers = 2, Seed = 3 };
        // The quiet reference: the first epoch's batches.
        var expected = new List<Tensor>();
        using (var loader = new DataLoader(dataset, transform, options))
            for (int i = 0; i < 3; i++) { using var b = loader.Next()!; expected.Add(b.Images.clone().DetachFromDisposeScope()); }
        using (var loader = new DataLoader(dataset, transform, options))
            UnderPressure(1000, i =>
            {
                using var b = loader.Next() ?? throw new InvalidOperationException("the loader ended");
                if (i < 3) AssertEqual(expected[i], b.Images, $"batch {i}");
                Assert.Equal(new long[] { 8, 3, 32, 32 }, b.Images.shape);
            });
        foreach (var t in expected) t.Dispose();
    }

    [Fact]
    public void CheckpointSaveAndLoad()
    {
        using var tmp = new CliRunner.TempDir();
        manual_seed(9);
        using var model = new ConvVqModel(TokenizerConfig().Model!.VqModel!);
        using var copy = new ConvVqModel(TokenizerConfig().Model!.VqModel!);
        var safetensors = Path.Combine(tmp.Path, "model.safetensors");
        var torchFile = Path.Combine(tmp.Path, "model.bin");
        UnderPressure(100, i =>
        {
            Checkpoint.Save(model, i % 2 == 0 ? safetensors : torchFile);
            Checkpoint.LoadInto(copy, i % 2 == 0 ? safetensors : torchFile);
        });
        using var scope = NewDisposeScope();
        var a = model.state_dict();
        var b = copy.state_dict();
        foreach (var (k, v) in a) AssertEqual(v, b[k], k);
    }

    /// <summary>
    /// The whole Stage I loop on an image folder (worker threads decoding PNGs, discriminator from step 0, checkpoints,
    /// evaluation and reconstruction images) for 2,000 steps under pressure. About 5 minutes on 2 cores, so opt-in:
    /// <c>dotnet test tests/MaskBit.Tests -c Release --filter Category=GcStressLong</c>.
    /// </summary>
    [Fact]
    [Trait("Category", "GcStressLong")]
    public void StageIOnAnImageFolderFor2000Steps()
    {
        using var tmp = new CliRunner.TempDir();
        ImageFolder(tmp["images"], 64);
        var config = TokenizerConfig($"dataset.params.train_shards_path_or_url={tmp["images"]}", $"dataset.params.eval_shards_path_or_url={tmp["images"]}",
            "dataset.params.num_workers_per_gpu=2", "training.per_gpu_batch_size=4", "training.max_train_steps=2000",
            "experiment.save_every=500", "experiment.eval_every=1000", "experiment.generate_every=500", "experiment.log_every=100");
        var log = new List<string>();
        using (var pressure = new GcPressure())
        {
            TokenizerTrainer.Run(config, new TrainingRunOptions { OutputDir = tmp["run"], OnLog = log.Add });
            Assert.True(pressure.Gen0Collections > 2000, $"only {pressure.Gen0Collections} collections");
        }
        Assert.True(Directory.Exists(Path.Combine(tmp["run"], "checkpoint-2000")), string.Join("\n", log));
    }
}
