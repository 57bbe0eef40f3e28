using MaskBit.Config;

namespace MaskBit.Tests.Config;

/// <summary>The shipped configs/: the original's 17 files plus our presets, all loadable, with spot-checked values.</summary>
public class ConfigFilesTests
{
    static string ConfigsDir => Path.Combine(Golden.RepoRoot, "configs");

    static ExperimentConfig Load(string relative, params string[] overrides) => ConfigLoader.Load(Path.Combine(ConfigsDir, relative), overrides);

    static IEnumerable<string> FileNames() =>
        Directory.GetFiles(ConfigsDir, "*.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(ConfigsDir, f).Replace('\\', '/')).Order(StringComparer.Ordinal);

    public static TheoryData<string> Files() => new(FileNames());

    [Theory]
    [MemberData(nameof(Files))]
    public void LoadsBindsAndRoundTrips(string file)
    {
        var config = Load(file);
        Assert.NotNull(config.Model?.VqModel);
        var yaml = ConfigWriter.ToYaml(config);
        Assert.Equal(yaml, ConfigWriter.ToYaml(ConfigLoader.LoadFromString(yaml)));
    }

    [Fact]
    public void EveryOriginalFileIsPresent()
    {
        var byFolder = FileNames().GroupBy(f => f.Split('/')[0]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(7, byFolder["tokenizer"]);
        Assert.Equal(7, byFolder["generator"]);
        Assert.Equal(2, byFolder["external"]);
        Assert.Equal(1, byFolder["demo"]);
    }

    [Fact]
    public void Generator14BitHasItsSamplingKnobs()
    {
        var config = Load("generator/maskbit_generator_14bit.yaml");
        var mlm = config.Model!.MlmModel!;
        var s = mlm.Sampling;
        Assert.Equal((7.1, 7.8, 3.0, 64, "cosine"), (s.GuidanceScale, s.RandomizeTemperature, s.ScalePow, s.NumSteps, s.GuidanceAnnealing));
        Assert.Equal((1024, 24, 16, 4096, 2, false), (mlm.HiddenDim, mlm.Depth, mlm.Heads, mlm.MlpDim, mlm.CodebookSplits, mlm.UsePrenorm));
        Assert.Equal((14, 16384), (config.Model.VqModel!.TokenSize, config.Model.VqModel.CodebookSize));
        Assert.Equal("MODEL_PATH/maskbit_tokenizer_14bit.bin", config.Experiment!.VqganCheckpoint);
        Assert.Equal((0.1, false), (config.Losses!.Mlm!.LabelSmoothing, config.Losses.Mlm.SumSplits));
        Assert.Equal(("bicubic", false), (config.Dataset!.Preprocessing!.Interpolation, config.Dataset.Preprocessing.UseAspectRatioAug));
        Assert.Equal((0.96, 0.045), (config.Optimizer!.Params!.Beta2, config.Optimizer.Params.WeightDecay));
        Assert.Equal((32, 4), (config.Training!.PerGpuBatchSize, config.Training.NumGeneratedImages));
        Assert.Null(config.Model.Discriminator);
    }

    [Fact]
    public void TokenizerHasTrainingValuesAndInterpolatedSchedulerRate()
    {
        var config = Load("tokenizer/maskbit_tokenizer_14bit.yaml");
        Assert.Equal(1_350_000, config.Training!.MaxTrainSteps);
        Assert.Equal(1e-4, config.Optimizer!.Params!.LearningRate);
        Assert.Equal(1e-4, config.LrScheduler!.Params!.LearningRate);
        Assert.Equal(5000, config.LrScheduler.Params.WarmupSteps);
        Assert.Equal(1e-8, config.Optimizer.Params.Epsilon);
        Assert.Equal(("no", true, 42), (config.Training.MixedPrecision, config.Training.UseEma, config.Training.Seed));
        Assert.Equal((1_281_167, 20_000, ""), (config.Experiment!.MaxTrainExamples, config.Experiment.SaveEvery, config.Experiment.InitCheckpoint));
        Assert.Null(config.Experiment.VqganCheckpoint); // commented out in the file: given on the command line
        Assert.Equal((4.0, 2.0, 20_000), (config.Losses!.ReconstructionWeight, config.Losses.EntropyAnnealingFactor, config.Losses.DiscriminatorStart));
        Assert.Equal(0.999, config.Losses.EmaDecay); // optional key, default of fidelity 9.1
        Assert.Equal(("VQGAN+Discriminator", 4, 4), (config.Model!.Discriminator!.Name, config.Model.Discriminator.NumStages, config.Model.Discriminator.BlurKernelSize));
        var vq = config.Model.VqModel!;
        Assert.Equal((4096, 16384, 16), (vq.CodebookSize, vq.EffectiveCodebookSize, vq.DownsamplingFactor));
        Assert.Equal([1, 1, 2, 2, 4], vq.ChannelMult);
    }

    [Fact]
    public void OriginalQuirksAreKept()
    {
        Assert.Equal("vqgan_plus_10bit", Load("tokenizer/vqgan_plus_12bit.yaml").Experiment!.Name);
        Assert.Equal("DATA_PATHimagenet_shards/val/imagenet-val-{0000..0009}.tar",
            Load("tokenizer/maskbit_tokenizer_18bit.yaml").Dataset!.Params!.EvalShardsPathOrUrl);
        var vqgan = Load("tokenizer/vqgan_plus_12bit.yaml").Model!.VqModel!;
        Assert.Equal(("lookup", 4096, 64, 4096), (vqgan.QuantizerType, vqgan.CodebookSize, vqgan.TokenSize, vqgan.EffectiveCodebookSize));
        var maskgit = Load("external/maskgit_tokenizer.yaml");
        Assert.Equal(("maskgit", false), (maskgit.Model!.VqModel!.ModelClass, maskgit.Model.VqModel.SampleWithConv));
        Assert.Null(maskgit.Losses);
        Assert.Equal("taming", Load("external/taming_vqgan_tokenizer.yaml").Model!.VqModel!.ModelClass);
    }

    [Fact]
    public void DemoHasOnlyTheModels()
    {
        var config = Load("demo/demo.yaml");
        Assert.Equal((14, 2), (config.Model!.VqModel!.TokenSize, config.Model.MlmModel!.CodebookSplits));
        Assert.Null(config.Model.Discriminator);
        Assert.All(new object?[] { config.Experiment, config.Losses, config.Dataset, config.Optimizer, config.LrScheduler, config.Training }, Assert.Null);
    }

    [Fact]
    public void TinyPresetsHaveTheGoldenShapes()
    {
        var tokenizer = Load("presets/tiny_tokenizer.yaml");
        var vq = tokenizer.Model!.VqModel!;
        Assert.Equal((32, 3, 1, 10), (vq.HiddenChannels, vq.NumResolutions, vq.NumResBlocks, vq.TokenSize));
        Assert.Equal([1, 2, 2], vq.ChannelMult);
        Assert.Equal(32, tokenizer.Dataset!.Preprocessing!.Resolution);
        Assert.Equal((32, 3), (tokenizer.Model.Discriminator!.HiddenChannels, tokenizer.Model.Discriminator.NumStages));

        var generator = Load("presets/tiny_generator.yaml");
        var mlm = generator.Model!.MlmModel!;
        Assert.Equal((64, 2, 4, 128, 2), (mlm.HiddenDim, mlm.Depth, mlm.Heads, mlm.MlpDim, mlm.CodebookSplits));
        Assert.Equal(vq, generator.Model.VqModel! with { ChannelMult = vq.ChannelMult }); // same tokenizer,
        Assert.Equal(vq.ChannelMult, generator.Model.VqModel.ChannelMult);                // arrays compared apart
        Assert.Equal(8, generator.Dataset!.Preprocessing!.Resolution / generator.Model.VqModel.DownsamplingFactor); // 8x8 tokens
    }
}
