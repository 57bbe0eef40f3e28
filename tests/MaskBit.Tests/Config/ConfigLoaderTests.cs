using MaskBit.Config;

namespace MaskBit.Tests.Config;

/// <summary>Overrides, interpolation, error messages and save/load of <see cref="ConfigLoader"/> / <see cref="ConfigWriter"/>.</summary>
public class ConfigLoaderTests
{
    const string Yaml = """
        experiment:
          name: "run"
        model:
          vq_model:
            token_size: 10
            channel_mult: [1, 2, 2]
        optimizer:
          params:
            learning_rate: 1e-4
        lr_scheduler:
          params:
            learning_rate: ${optimizer.params.learning_rate}
        training:
          per_gpu_batch_size: 16
          max_train_steps: 1_000
        """;

    static ExperimentConfig Load(string yaml = Yaml, params string[] overrides) => ConfigLoader.LoadFromString(yaml, overrides, "test.yaml");

    static string Error(string yaml = Yaml, params string[] overrides)
    {
        var message = Assert.Throws<ConfigException>(() => Load(yaml, overrides)).Message;
        Assert.DoesNotContain('\n', message);
        return message;
    }

    [Fact]
    public void OverridesAreYamlTypedAndWin()
    {
        var config = Load(Yaml,
            "training.max_train_steps=1_350_000", "optimizer.params.learning_rate=3e-4", "model.vq_model.channel_mult=[1,1,2,2,4]",
            "training.use_ema=True", "training.enable_tf32=false", "experiment.name=\"my run\"", "model.vq_model.model_class=maskgit",
            "experiment.vqgan_checkpoint=/tmp/t.bin", "losses.mlm.sum_splits=True", "training.seed=null", "training.per_gpu_batch_size=8",
            "training.per_gpu_batch_size=4");
        Assert.Equal(1_350_000, config.Training!.MaxTrainSteps);
        Assert.Equal(3e-4, config.Optimizer!.Params!.LearningRate);
        Assert.Equal([1, 1, 2, 2, 4], config.Model!.VqModel!.ChannelMult);
        Assert.Equal((true, false, null, 4), (config.Training.UseEma, config.Training.EnableTf32, config.Training.Seed, config.Training.PerGpuBatchSize));
        Assert.Equal(("my run", "maskgit", "/tmp/t.bin"), (config.Experiment!.Name, config.Model.VqModel.ModelClass, config.Experiment.VqganCheckpoint));
        Assert.True(config.Losses!.Mlm!.SumSplits); // sections absent from the file are created
        Assert.Equal(10, config.Model.VqModel.TokenSize); // untouched keys keep the file's value
    }

    [Fact]
    public void SectionOverrideMergesKeyByKey()
    {
        var training = Load(Yaml, "training={seed: 7, use_ema: true}").Training!;
        Assert.Equal((7, true, 16, 1000), (training.Seed, training.UseEma, training.PerGpuBatchSize, training.MaxTrainSteps));
    }

    [Fact]
    public void InterpolationFollowsAnOverriddenTarget()
    {
        Assert.Equal(1e-4, Load().LrScheduler!.Params!.LearningRate);
        Assert.Equal(2e-3, Load(Yaml, "optimizer.params.learning_rate=2e-3").LrScheduler!.Params!.LearningRate);
        Assert.Equal(5e-5, Load(Yaml, "lr_scheduler.params.learning_rate=5e-5").LrScheduler!.Params!.LearningRate);
    }

    [Fact]
    public void InterpolationInsideTextAndOfWholeNodes()
    {
        var config = Load(Yaml + "\n  num_generated_images: ${training.per_gpu_batch_size}\n",
            "experiment.logging_dir=runs/${experiment.name}_${model.vq_model.token_size}bit", "model.mlm_model.mask_token=${training.num_generated_images}");
        Assert.Equal("runs/run_10bit", config.Experiment!.LoggingDir);
        Assert.Equal((16, 16), (config.Training!.NumGeneratedImages, config.Model!.MlmModel!.MaskToken));
    }

    [Fact]
    public void UnknownKeysSuggestTheClosest()
    {
        Assert.Equal("command line: training.per_gpu_batchsize: unknown key (did you mean 'training.per_gpu_batch_size'?)",
            Error(Yaml, "training.per_gpu_batchsize=8"));
        Assert.Equal("test.yaml: model.vq_model.tokensize: unknown key (did you mean 'model.vq_model.token_size'?)",
            Error(Yaml.Replace("token_size", "tokensize")));
        Assert.StartsWith("command line: zzz: unknown key (keys of the root: experiment, model, losses,", Error(Yaml, "zzz=1"));
        Assert.Equal("command line: training.seed.x: 'training.seed' is a value, not a section", Error(Yaml, "training.seed.x=1"));
    }

    [Fact]
    public void WrongTypesNameFileKeyExpectedAndGot()
    {
        Assert.Equal("test.yaml: training.per_gpu_batch_size: expected an integer, got 'abc'", Error(Yaml.Replace(": 16", ": abc")));
        Assert.Equal("command line: training.max_train_steps: expected an integer, got '1.5'", Error(Yaml, "training.max_train_steps=1.5"));
        Assert.Equal("command line: training.use_ema: expected true or false, got 'yes please'", Error(Yaml, "training.use_ema=yes please"));
        Assert.Equal("command line: optimizer.params.beta1: expected a number, got a list", Error(Yaml, "optimizer.params.beta1=[1]"));
        Assert.Equal("command line: optimizer.params.beta1: expected a number, got 'NaN'", Error(Yaml, "optimizer.params.beta1=NaN"));
        Assert.Equal("test.yaml: model.vq_model.channel_mult[1]: expected an integer, got 'x'", Error(Yaml.Replace("[1, 2, 2]", "[1, x, 2]")));
        Assert.Equal("test.yaml: model.vq_model: expected a section, got '3'", Error("model:\n  vq_model: 3\n"));
        Assert.Equal("test.yaml: model.vq_model.token_size: expected an integer, got null", Error("model:\n  vq_model:\n    token_size:\n"));
        Assert.Equal("test.yaml: experiment.name: missing required key", Error("experiment:\n  project: x\n"));
    }

    [Fact]
    public void BadInputIsAOneLineError()
    {
        Assert.Equal("command line: 'foo': expected key.path=value", Error(Yaml, "foo"));
        Assert.Equal("command line: training.: empty key name", Error(Yaml, "training.=1"));
        Assert.StartsWith("command line: model.vq_model.channel_mult: invalid value '[1,2'", Error(Yaml, "model.vq_model.channel_mult=[1,2"));
        Assert.Equal("test.yaml: lr_scheduler.params.learning_rate: interpolation ${optimizer.params.lr} names a missing key",
            Error(Yaml.Replace("${optimizer.params.learning_rate}", "${optimizer.params.lr}")));
        Assert.Equal("test.yaml: training.seed: interpolation cycle training.seed -> training.num_generated_images -> training.seed",
            Error(Yaml + "\n  seed: ${training.num_generated_images}\n  num_generated_images: ${training.seed}\n"));
        Assert.StartsWith("test.yaml: invalid YAML at line", Error("training: [1, 2\n"));
        var missing = Path.Combine(Path.GetTempPath(), "maskbit-no-such-config.yaml");
        Assert.Equal($"{missing}: config file not found", Assert.Throws<ConfigException>(() => ConfigLoader.Load(missing)).Message);
    }

    [Fact]
    public void SaveThenLoadGivesTheSameConfig()
    {
        var config = Load(Yaml, "training.seed=null", "experiment.vqgan_checkpoint=C:\\models\\\"q\".bin", "optimizer.params.epsilon=1e-8");
        var path = Path.Combine(Path.GetTempPath(), $"maskbit-config-{Guid.NewGuid():N}.yaml");
        try
        {
            ConfigWriter.Save(config, path);
            var text = File.ReadAllText(path);
            Assert.Contains("  per_gpu_batch_size: 16\n", text);
            Assert.Contains("  mixed_precision: \"no\"\n", text);
            Assert.Contains("    learning_rate: 0.0001\n", text);
            Assert.Contains("    epsilon: 1e-08\n", text);
            Assert.DoesNotContain("dataset:", text); // absent sections stay absent
            var reloaded = ConfigLoader.Load(path);
            Assert.Equal(text, ConfigWriter.ToYaml(reloaded));
            Assert.Equal((null, "C:\\models\\\"q\".bin"), (reloaded.Training!.Seed, reloaded.Experiment!.VqganCheckpoint));
            Assert.Equal(config.Model!.VqModel!.ChannelMult, reloaded.Model!.VqModel!.ChannelMult);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
