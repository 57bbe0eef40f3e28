using MaskBit.Config;
using MaskBit.Generation;

namespace MaskBit.Tests.Generation;

/// <summary>The one sampling-options record: bound from model.mlm_model, overridden, validated; presets equal the configs.</summary>
public class SamplingOptionsTests
{
    static string ConfigPath(string name) => Path.Combine(Golden.RepoRoot, "configs", name);

    public static TheoryData<string> PresetNames() => new(SamplingOptions.Presets.Keys);

    [Theory, MemberData(nameof(PresetNames))]
    public void EveryPresetEqualsItsOfficialConfig(string name)
    {
        var config = ConfigLoader.Load(ConfigPath($"generator/maskbit_generator_{name}.yaml"));
        Assert.Equal(config.Model!.MlmModel!.Sampling, SamplingOptions.Preset(name));
    }

    [Fact]
    public void TheOfficialStepPresetsAreThe14BitConfigs()
    {
        Assert.Same(SamplingOptions.Presets["14bit"], SamplingOptions.Official64Steps);
        Assert.Equal((128, 256), (SamplingOptions.Official128Steps.NumSteps, SamplingOptions.Official256Steps.NumSteps));
        var message = Assert.Throws<ArgumentException>(() => SamplingOptions.Preset("15bit")).Message;
        Assert.Contains("14bit_256steps", message);
    }

    [Fact]
    public void ASilentConfigGetsTheOriginalsDefaults()
    {
        var demo = ConfigLoader.Load(ConfigPath("demo/demo.yaml")).Model!.MlmModel!.Sampling;
        Assert.Equal(new SamplingOptions(), demo);
        Assert.Equal((12, 3.0, "none", "arccos", 1.0, 4.5), (demo.NumSteps, demo.GuidanceScale, demo.GuidanceAnnealing,
            demo.GenMaskScheduleStrategy, demo.SoftmaxTemperature, demo.RandomizeTemperature));
    }

    [Fact]
    public void DottedOverridesReachTheSamplingKnobsAndTheWriterKeepsThem()
    {
        var config = ConfigLoader.Load(ConfigPath("generator/maskbit_generator_14bit.yaml"),
            ["model.mlm_model.num_steps=256", "model.mlm_model.gen_mask_schedule_strategy=cosine", "model.mlm_model.depth=2"]);
        var mlm = config.Model!.MlmModel!;
        Assert.Equal(SamplingOptions.Official64Steps with { NumSteps = 256, GenMaskScheduleStrategy = "cosine" }, mlm.Sampling);
        Assert.Equal(2, mlm.Depth);
        var yaml = ConfigWriter.ToYaml(config);
        Assert.Contains("    num_steps: 256", yaml);
        Assert.Equal(mlm.Sampling, ConfigLoader.LoadFromString(yaml).Model!.MlmModel!.Sampling);
    }

    [Fact]
    public void AMistypedSamplingKeyIsSuggested()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(ConfigPath("demo/demo.yaml"), ["model.mlm_model.num_step=8"]));
        Assert.Contains("did you mean 'model.mlm_model.num_steps'", e.Message);
    }

    [Theory]
    [InlineData("NumSteps")]
    [InlineData("GuidanceAnnealing")]
    [InlineData("GenMaskScheduleStrategy")]
    [InlineData("SoftmaxTemperature")]
    [InlineData("RandomizeTemperature")]
    public void ValidateNamesTheBadKnob(string knob)
    {
        var bad = knob switch
        {
            "NumSteps" => new SamplingOptions { NumSteps = 0 },
            "GuidanceAnnealing" => new SamplingOptions { GuidanceAnnealing = "exp" },
            "GenMaskScheduleStrategy" => new SamplingOptions { GenMaskScheduleStrategy = "cubic" },
            "SoftmaxTemperature" => new SamplingOptions { SoftmaxTemperature = 0 },
            _ => new SamplingOptions { RandomizeTemperature = -1 },
        };
        var e = Assert.ThrowsAny<ArgumentException>(() => bad.Validate());
        Assert.Contains(ConfigKey(knob), e.Message);
    }

    static string ConfigKey(string property) => string.Concat(property.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));
}
