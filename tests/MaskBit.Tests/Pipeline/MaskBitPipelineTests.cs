using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Pipeline;
using MaskBit.Tests.Cli;
using static TorchSharp.torch;

namespace MaskBit.Tests.Pipeline;

/// <summary>The pipeline on the original's golden tiny checkpoints (tokenizer A, generator D) and model folders made from them.</summary>
public class MaskBitPipelineTests
{
    internal static string Config => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");
    internal static string TokenizerFile => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");
    internal static string GeneratorFile => Path.Combine(Golden.RepoCopy, "generator_lfqbert_small", "model.bin");

    static MaskBitPipeline Load() => MaskBitPipeline.Load(Config, TokenizerFile, GeneratorFile);

    static readonly SamplingOptions Fast = new() { NumSteps = 3, GuidanceScale = 2.0 };

    [Fact]
    public void GenerateReturnsImagesTokensAndLabelsReproduciblyWithProgress()
    {
        using var pipeline = Load();
        var seen = new List<GenerationProgress>();
        using var a = pipeline.Generate([207, 1], perClass: 2, Fast, seed: 5, batchSize: 3, onProgress: seen.Add);
        Assert.Equal(new long[] { 4, 3, 32, 32 }, a.Images.shape);
        Assert.Equal(new long[] { 4, 64 }, a.Tokens.shape);
        Assert.Equal([207, 207, 1, 1], a.Labels);
        Assert.True(a.Images.min().item<float>() >= 0 && a.Images.max().item<float>() <= 1);
        Assert.Equal(2 * 3, seen.Count); // 2 batches x 3 steps
        Assert.Equal(new GenerationProgress(3, 3, 2, 2), seen[^1]);

        using var b = pipeline.Generate([207, 1], perClass: 2, Fast, seed: 5, batchSize: 3);
        Assert.True(a.Images.equal(b.Images).all().item<bool>());
        using var c = pipeline.Generate([207, 1], perClass: 2, Fast, seed: 6, batchSize: 3);
        Assert.False(a.Tokens.equal(c.Tokens).all().item<bool>());
        // The tokens are the images' tokens: decoding them again gives the same images.
        var diff = (pipeline.Detokenize(a.Tokens) - a.Images).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"decoding the returned tokens differs by {diff}");
    }

    [Fact]
    public void SampledTokensThenDecodedWithoutTheGeneratorAreWhatGenerateReturns()
    {
        using var pipeline = Load();
        using var whole = pipeline.Generate([207, 1], perClass: 2, Fast, seed: 5, batchSize: 3);
        var (tokens, labels) = pipeline.SampleTokens([207, 1], perClass: 2, Fast, seed: 5, batchSize: 3);
        using var _ = tokens;
        Assert.True(tokens.equal(whole.Tokens).all().item<bool>());
        Assert.Equal(whole.Labels, labels);
        // What `maskbit generate` does: free the generator, then decode.
        var weight = pipeline.Generator!.parameters().First();
        pipeline.ReleaseGenerator();
        Assert.Null(pipeline.Generator);
        Assert.True(weight.IsInvalid); // its native memory is freed now, not at a later garbage collection
        pipeline.BatchSize = 3;
        using var images = pipeline.Detokenize(tokens);
        Assert.True(images.equal(whole.Images).all().item<bool>());
        Assert.Contains("ReleaseGenerator", Assert.Throws<InvalidOperationException>(() => pipeline.Generate([1])).Message);
        pipeline.ReleaseGenerator(); // a second release is a no-op
    }

    [Fact]
    public void GenerateCanFreeTheGeneratorBeforeDecodingAndReportEachDecodedBatch()
    {
        using var pipeline = Load();
        using var kept = pipeline.Generate([207, 1], perClass: 2, Fast, seed: 5, batchSize: 3);
        var decoded = new List<int>();
        using var released = pipeline.Generate([207, 1], perClass: 2, Fast, seed: 5, batchSize: 3, releaseGenerator: true, onDecoded: decoded.Add);
        Assert.Null(pipeline.Generator);
        Assert.Equal([3, 1], decoded);
        Assert.True(released.Tokens.equal(kept.Tokens).all().item<bool>());
        Assert.True(released.Images.equal(kept.Images).all().item<bool>());
    }

    [Fact]
    public void GenerateChecksItsArgumentsAndHonoursCancellation()
    {
        using var pipeline = Load();
        Assert.Contains("out of range", Assert.Throws<ArgumentException>(() => pipeline.Generate([1000])).Message);
        Assert.Contains("no classes", Assert.Throws<ArgumentException>(() => pipeline.Generate([])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Generate([1], perClass: 0));
        Assert.Contains("num_steps", Assert.ThrowsAny<ArgumentException>(() => pipeline.Generate([1], options: Fast with { NumSteps = 0 })).Message);
        using var cts = new CancellationTokenSource();
        int steps = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Generate([1, 2], 1, Fast, onProgress: _ => { if (++steps == 2) cts.Cancel(); }, cancellationToken: cts.Token));
        Assert.Equal(2, steps);
    }

    [Fact]
    public void TheDefaultClassesOfAnImageNetModelAreTheOriginalDemoLabels()
    {
        using var pipeline = Load();
        var classes = pipeline.DefaultClasses(seed: 3);
        Assert.Equal([1, 7, 282, 604, 724, 179, 751, 404, 850], classes.Take(9));
        Assert.Equal(classes, pipeline.DefaultClasses(seed: 3));
        Assert.Same(ClassNames.ImageNet, pipeline.Classes);
    }

    [Fact]
    public void TokenizeDetokenizeAndReconstructAgree()
    {
        using var pipeline = Load();
        pipeline.BatchSize = 2;
        using var scope = NewDisposeScope();
        var x = rand(new long[] { 3, 3, 32, 32 }, generator: new Generator(4));
        var tokens = pipeline.Tokenize(x);
        Assert.Equal(new long[] { 3, 64 }, tokens.shape);
        var (recon, reconTokens) = pipeline.Reconstruct(x);
        Assert.True(tokens.equal(reconTokens).all().item<bool>());
        Assert.True(pipeline.Detokenize(tokens).allclose(recon, atol: 1e-5));
        Assert.Contains("0..1023", Assert.Throws<ArgumentException>(() => pipeline.Detokenize(full(1, 64, 1024L))).Message);
        Assert.Contains("[B, 3, H, W]", Assert.Throws<ArgumentException>(() => pipeline.Tokenize(zeros(3, 32, 32))).Message);
    }

    [Fact]
    public void SaveThenFromFolderGivesTheSameStateDictsAndSettings()
    {
        using var tmp = new CliRunner.TempDir();
        using var pipeline = Load();
        pipeline.Save(tmp["model"]);
        foreach (var f in new[] { ModelFolder.ConfigFile, ModelFolder.TokenizerFile, ModelFolder.GeneratorFile, ModelFolder.CardFile })
            Assert.True(File.Exists(Path.Combine(tmp["model"], f)), f);
        Assert.False(File.Exists(Path.Combine(tmp["model"], ModelFolder.ClassesFile))); // ImageNet: the default

        using var loaded = MaskBitPipeline.FromFolder(tmp["model"]);
        AssertSameStateDict(pipeline.Tokenizer.Module, loaded.Tokenizer.Module);
        AssertSameStateDict(pipeline.Generator!, loaded.Generator!);
        Assert.Equal(pipeline.Sampling, loaded.Sampling);
        Assert.Equal(ConfigWriter.ToYaml(pipeline.Config), ConfigWriter.ToYaml(loaded.Config));

        // The generator is stored in the released naming, and each file says what it is.
        var (weights, metadata) = Checkpoint.ReadSafeTensors(Path.Combine(tmp["model"], ModelFolder.GeneratorFile));
        Assert.Contains("token_emb.weight", weights.Keys);
        Assert.Equal(("generator", "10", "1"), (metadata[ModelFolder.KindKey], metadata[ModelFolder.TokenBitsKey], metadata[ModelFolder.FormatVersionKey]));
        foreach (var t in weights.Values) t.Dispose();
    }

    [Fact]
    public void OwnClassNamesTravelInTheFolder()
    {
        using var tmp = new CliRunner.TempDir();
        var names = new ClassNames(Enumerable.Range(0, 1000).Select(i => $"thing {i}"), "test");
        using (var pipeline = MaskBitPipeline.Load(ConfigLoader.Load(Config), TokenizerFile, GeneratorFile, classes: names))
            pipeline.Save(tmp["model"]);
        using var loaded = MaskBitPipeline.FromFolder(tmp["model"]);
        Assert.Equal(7, loaded.Classes.Resolve("thing 7"));
        Assert.Equal(Enumerable.Range(0, 1000), loaded.DefaultClasses(1)); // not ImageNet: every class once
    }

    [Fact]
    public void SaveNeverOverwritesANonEmptyFolder()
    {
        using var tmp = new CliRunner.TempDir();
        Directory.CreateDirectory(tmp["model"]);
        File.WriteAllText(Path.Combine(tmp["model"], "keep.txt"), "mine");
        using var pipeline = Load();
        Assert.Contains("not empty", Assert.Throws<IOException>(() => pipeline.Save(tmp["model"])).Message);
        Assert.Equal(["keep.txt"], Directory.GetFiles(tmp["model"]).Select(Path.GetFileName));
        Assert.Single(Directory.GetFileSystemEntries(tmp.Path)); // no temporary folder left behind
    }

    public static TheoryData<string, string> BrokenFolders => new()
    {
        { "no-folder", "model folder not found" },
        { "no-config", "not a model folder (no config.yaml)" },
        { "no-tokenizer", "model folder has no tokenizer.safetensors" },
        { "swapped", "generator.safetensors: the file holds a tokenizer, expected a generator" },
        { "other-width", "generator.safetensors: generator for a codebook of 1024 (10-bit tokens), but config.yaml describes 4096" },
        { "classes", "classes.txt: 3 classes, but generator.safetensors has 1000" },
        { "newer", "format version 2, this MaskBit reads up to 1" },
        { "truncated", "tokenizer.safetensors" },
        { "no-mlm", "needs a model.mlm_model section" },
        { "tampered", "tokenizer.safetensors: SHA-256 differs from SHA256SUMS" },
    };

    [Theory, MemberData(nameof(BrokenFolders))]
    public void ABrokenFolderIsOneClearError(string damage, string expected)
    {
        using var tmp = new CliRunner.TempDir();
        var dir = tmp["model"];
        using (var pipeline = Load()) pipeline.Save(dir);
        string F(string name) => Path.Combine(dir, name);
        switch (damage)
        {
            case "no-folder": Directory.Delete(dir, true); break;
            case "no-config": File.Delete(F(ModelFolder.ConfigFile)); break;
            case "no-tokenizer": File.Delete(F(ModelFolder.TokenizerFile)); break;
            case "swapped": File.Copy(F(ModelFolder.TokenizerFile), F(ModelFolder.GeneratorFile), overwrite: true); break;
            case "other-width": File.WriteAllText(F(ModelFolder.ConfigFile), File.ReadAllText(F(ModelFolder.ConfigFile)).Replace("token_size: 10", "token_size: 12")); break;
            case "classes": File.WriteAllLines(F(ModelFolder.ClassesFile), ["a", "b", "c"]); break;
            case "newer": RewriteMetadata(F(ModelFolder.TokenizerFile), ModelFolder.FormatVersionKey, "2"); break;
            case "truncated": Truncate(F(ModelFolder.TokenizerFile)); break;
            case "no-mlm": File.WriteAllText(F(ModelFolder.ConfigFile), ConfigWriter.ToYaml(ConfigLoader.Load(F(ModelFolder.ConfigFile)) is var c
                ? c with { Model = c.Model! with { MlmModel = null } } : null!)); break;
            case "tampered": FlipLastByte(F(ModelFolder.TokenizerFile)); break;
        }
        // Past the digest check, so that the check each case is about is the one that answers.
        if (damage is not ("no-folder" or "no-config" or "no-tokenizer" or "tampered")) FileDigests.Write(dir);
        var e = Record.Exception(() => MaskBitPipeline.FromFolder(dir).Dispose());
        Assert.NotNull(e);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(expected, e.Message);
    }

    static void RewriteMetadata(string path, string key, string value)
    {
        var (weights, metadata) = Checkpoint.ReadSafeTensors(path);
        var changed = metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        changed[key] = value;
        Checkpoint.WriteStateDict(path, weights, changed);
        foreach (var t in weights.Values) t.Dispose();
    }

    static void FlipLastByte(string path)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void ATamperedFolderLoadsWhenTheDigestCheckIsSkipped()
    {
        using var tmp = new CliRunner.TempDir();
        using (var pipeline = Load()) pipeline.Save(tmp["model"]);
        FlipLastByte(Path.Combine(tmp["model"], ModelFolder.TokenizerFile)); // one weight's last byte: still a valid file
        Assert.Throws<CheckpointException>(() => MaskBitPipeline.FromFolder(tmp["model"]).Dispose());
        MaskBitPipeline.FromFolder(tmp["model"], skipDigests: true).Dispose();
        Assert.Equal(0, CliRunner.Run("reconstruct", "--model", tmp["model"], "--no-verify",
            Path.Combine(Golden.RepoRoot, "tests", "fixtures", "images", "input.png"), "-o", tmp["out"]).code);
    }

    static void Truncate(string path)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }

    static void AssertSameStateDict(nn.Module expected, nn.Module actual)
    {
        var a = Checkpoint.StateDict(expected);
        var b = Checkpoint.StateDict(actual);
        Assert.Equal(a.Select(e => e.Key), b.Select(e => e.Key));
        for (int i = 0; i < a.Count; i++)
            Assert.True(a[i].Tensor.equal(b[i].Tensor).all().item<bool>(), a[i].Key);
    }
}
