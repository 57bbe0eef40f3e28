using MaskBit.Config;
using MaskBit.Interop;
using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>The Stage I loop on a tiny config and a tiny Fashion-MNIST-format data set made in the test.</summary>
[Collection(GlobalRngCollection.Name)]
public class TokenizerTrainerTests
{
    /// <summary>The tiny tokenizer preset on a data set of 64 random images, 4 per batch, discriminator from step 2.</summary>
    static ExperimentConfig Config(CliRunner.TempDir tmp, params string[] extra)
    {
        var data = tmp["fmnist"];
        if (!Directory.Exists(data)) DataFixtures.FashionMnistFolder(data, 64, 16);
        return ConfigLoader.Load(Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml"),
        [
            $"dataset.params.train_shards_path_or_url=fashion-mnist:{data}", $"dataset.params.eval_shards_path_or_url=fashion-mnist:{data}",
            "dataset.params.num_workers_per_gpu=1", "losses.perceptual_loss=none", "losses.discriminator_start=2",
            "losses.entropy_annealing_steps=4", "lr_scheduler.params.warmup_steps=2", "training.per_gpu_batch_size=4",
            "training.max_train_steps=6", "experiment.save_every=3", "experiment.eval_every=6", "experiment.generate_every=3",
            "experiment.log_every=1", .. extra,
        ]);
    }

    static TrainingRunOptions Options(string dir, List<string>? log = null, long? stopAt = null) =>
        new() { OutputDir = dir, StopAtStep = stopAt, OnLog = log is null ? null : log.Add };

    [Fact]
    public void AStoppedAndResumedRunEndsBitIdenticalToAnUninterruptedOne()
    {
        using var tmp = new CliRunner.TempDir();
        var config = Config(tmp);
        TokenizerTrainer.Run(config, Options(tmp["straight"]));
        var log = new List<string>();
        TokenizerTrainer.Run(config, Options(tmp["resumed"], log, stopAt: 3));
        Assert.True(Directory.Exists(Path.Combine(tmp["resumed"], "checkpoint-3")));
        Assert.False(Directory.Exists(Path.Combine(tmp["resumed"], "checkpoint-6")));
        TokenizerTrainer.Run(config, Options(tmp["resumed"], log));
        Assert.Contains(log, l => l.Contains("resumed from") && l.Contains("checkpoint-3") && l.Contains("epoch 0, batch 3"));

        using var scope = NewDisposeScope();
        var keys = CheckpointComparison.AssertBitIdentical(Path.Combine(tmp["straight"], "checkpoint-6"), Path.Combine(tmp["resumed"], "checkpoint-6"),
            TrainingFiles.Model, TrainingFiles.EmaModel, TrainingFiles.LossModule, TrainingFiles.Optimizer, TrainingFiles.DiscriminatorOptimizer);
        Assert.Contains(keys, k => k.EndsWith(".exp_avg_sq")); // the moments are part of the comparison

        // The run wrote what people look at: log, TensorBoard events, reconstruction strips.
        Assert.True(File.Exists(Path.Combine(tmp["straight"], RunFolder.LogFile)));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(tmp["straight"], "logs"), "events.out.tfevents.*"));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(tmp["straight"], "train_images"), "*.png"));
    }

    [Fact]
    public void ADamagedCheckpointIsSkippedAndResumeFallsBackToThePreviousOne()
    {
        using var tmp = new CliRunner.TempDir();
        var config = Config(tmp);
        TokenizerTrainer.Run(config, Options(tmp["run"]));
        var newest = Path.Combine(tmp["run"], "checkpoint-6", TrainingFiles.Optimizer);
        File.WriteAllBytes(newest, File.ReadAllBytes(newest)[..100]); // a half-copied file

        var log = new List<string>();
        TokenizerTrainer.Run(config with { Training = config.Training! with { MaxTrainSteps = 7 } }, Options(tmp["run"], log));
        Assert.Contains(log, l => l.Contains("skipping damaged checkpoint") && l.Contains("checkpoint-6") && l.Contains("optimizer.safetensors"));
        Assert.Contains(log, l => l.Contains("resumed from") && l.Contains("checkpoint-3"));
        Assert.True(Directory.Exists(Path.Combine(tmp["run"], "checkpoint-7")));
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "no-data", "dataset.params.train_shards_path_or_url" },
        { "perceptual", "needs torchvision's ResNet-50 weights" },
        { "perceptual-file", "no-such-resnet.pth" },
        { "other-model", "holds a run of another model config" },
        { "init", "SHA256SUMS" },
        { "init-weight", "experiment.init_weight" },
    };

    [Theory, MemberData(nameof(BadInputs))]
    public void BadInputIsOneLineBeforeTheFirstStep(string kind, string expected)
    {
        using var tmp = new CliRunner.TempDir();
        var config = Config(tmp);
        var options = Options(tmp["run"]);
        switch (kind)
        {
            case "no-data": config = Config(tmp, "dataset.params.train_shards_path_or_url=" + tmp["missing"]); break;
            case "perceptual": config = Config(tmp, "losses.perceptual_loss=resnet50"); break;
            case "perceptual-file": config = Config(tmp, "losses.perceptual_loss=resnet50"); options = options with { PerceptualWeights = tmp["no-such-resnet.pth"] }; break;
            case "other-model":
                TokenizerTrainer.Run(config, Options(tmp["run"], stopAt: 1));
                config = Config(tmp, "model.vq_model.token_size=12", "model.vq_model.codebook_size=4096");
                break;
            case "init": Directory.CreateDirectory(tmp["empty-checkpoint"]); config = Config(tmp, $"experiment.init_checkpoint={tmp["empty-checkpoint"]}"); break;
            case "init-weight": config = Config(tmp, $"experiment.init_weight={tmp["no-such-tokenizer.safetensors"]}"); break;
        }
        var before = Directory.Exists(tmp["run"]) ? Directory.GetFileSystemEntries(tmp["run"], "*", SearchOption.AllDirectories).Order().ToList() : [];
        var e = Record.Exception(() => TokenizerTrainer.Run(config, options));
        Assert.NotNull(e);
        DataFixtures.OneLine(e);
        Assert.Contains(expected, e.Message);
        var after = Directory.Exists(tmp["run"]) ? Directory.GetFileSystemEntries(tmp["run"], "*", SearchOption.AllDirectories).Order().ToList() : [];
        Assert.Equal(before, after); // nothing written, nothing overwritten
    }

    [Fact]
    public void TheDiscriminatorIsUntouchedBeforeItsStartAndLossesFallOnAFixedBatch()
    {
        using var tmp = new CliRunner.TempDir();
        var config = Config(tmp, "losses.discriminator_start=8", "training.max_train_steps=40", "optimizer.params.learning_rate=1e-3");
        using var training = new TokenizerTraining(config);
        using var scope = NewDisposeScope();
        var initial = Checkpoint.StateDict(training.Loss.Discriminator).Select(e => e.Tensor.clone()).ToList();
        bool Unchanged() => Checkpoint.StateDict(training.Loss.Discriminator).Select((e, i) => e.Tensor.equal(initial[i]).all().item<bool>()).All(x => x);
        // A fixed batch of smooth images (a real-looking batch: gradients of low frequency).
        var x = nn.functional.interpolate(rand(4, 3, 4, 4, generator: new Generator(3)), [32, 32], mode: InterpolationMode.Bilinear, align_corners: false);
        var first = training.Step([x]);
        for (int i = 1; i < 8; i++) training.Step([x]);
        Assert.True(Unchanged(), "the discriminator changed before losses.discriminator_start");
        Assert.False(first.ContainsKey("disc.discriminator_loss"));
        Dictionary<string, double> last = first;
        for (int i = 8; i < 40; i++) last = training.Step([x]);
        Assert.False(Unchanged(), "the discriminator never trained after its start");
        Assert.True(last.Values.All(double.IsFinite));
        Assert.True(last["gen.reconstruction_loss"] < 0.5 * first["gen.reconstruction_loss"],
            $"reconstruction loss {first["gen.reconstruction_loss"]} -> {last["gen.reconstruction_loss"]} did not fall");
    }

    [Fact]
    public void FinetuneDecoderStartsFromInitWeightAndChangesNoTokenOnlyTheDecoder()
    {
        using var tmp = new CliRunner.TempDir();
        var init = Path.Combine(tmp.Path, "tokenizer.safetensors");
        using (var trained = new TokenizerTraining(Config(tmp, "training.seed=7")))
            Checkpoint.Save(trained.Model, init);
        var log = new List<string>();
        var config = Config(tmp, "model.vq_model.finetune_decoder=True", $"experiment.init_weight={init}", "losses.discriminator_start=0",
            "training.max_train_steps=4", "experiment.save_every=4", "experiment.eval_every=4");
        TokenizerTrainer.Run(config, Options(tmp["run"], log));
        Assert.Contains(log, l => l.Contains("initialised the weights from"));
        Assert.Contains(log, l => l.Contains("decoder only"));

        using var scope = NewDisposeScope();
        var start = Checkpoint.ReadStateDict(init);
        foreach (var file in new[] { TrainingFiles.Model, TrainingFiles.EmaModel })
        {
            var end = Checkpoint.ReadStateDict(Path.Combine(tmp["run"], "checkpoint-4", file));
            Assert.Equal(start.Keys, end.Keys);
            foreach (var key in start.Keys.Where(k => k.StartsWith("encoder.")))
                Assert.True(start[key].equal(end[key]).all().item<bool>(), $"{file}: {key} changed while finetune_decoder froze the encoder");
            Assert.Contains(start.Keys.Where(k => k.StartsWith("decoder.")), k => !start[k].equal(end[k]).all().item<bool>());
        }

        // One step by hand: the quantizer's losses are multiplied by 0, the encoder gets no gradient.
        using var training = new TokenizerTraining(config);
        training.LoadWeights(init);
        var x = rand(4, 3, 32, 32, generator: new Generator(5));
        var logs = training.Step([x]);
        Assert.Equal(0.0, logs["gen.quantizer_loss"]);
        Assert.Equal(0.0, logs["gen.commitment_loss"]);
        Assert.All(training.Model.Encoder.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void TheCommandTrainsIntoTheRunFolderAndFailsInOneLine()
    {
        using var tmp = new CliRunner.TempDir();
        DataFixtures.FashionMnistFolder(tmp["fmnist"], 64, 16);
        string[] args = ["train-tokenizer", "-c", Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_tokenizer.yaml"),
            "--set", $"dataset.params.train_shards_path_or_url=fashion-mnist:{tmp["fmnist"]}", "--set", "losses.perceptual_loss=none",
            "--set", "training.per_gpu_batch_size=4", "--set", "dataset.params.num_workers_per_gpu=1", "--stop-at", "2", "-o", tmp["run"]];
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.True(code == 0, stderr);
        Assert.Contains("run folder:", stdout);
        Assert.True(Directory.Exists(Path.Combine(tmp["run"], "checkpoint-2")));
        CliRunner.AssertFailsWithOneLine([.. args[..^2], "-o", tmp["run2"], "--set", "losses.perceptual_loss=resnet50"], "ResNet-50 weights");
        CliRunner.AssertFailsWithOneLine([.. args[..^2], "-o", tmp["run2"], "--set", "losses.perceptual_loss=lpips"], "lpips needs a folder with torchvision's vgg16-397923af.pth");
        CliRunner.AssertFailsWithOneLine([.. args[..^2], "-o", tmp["run2"], "--set", "losses.perceptual_loss=lpips", "--perceptual-weights", tmp["fmnist"]], "vgg16-397923af.pth) not found");
        Assert.False(Directory.Exists(tmp["run2"])); // nothing written before the inputs are checked
    }
}
