using System.Text.Json.Nodes;
using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Pipeline;
using MaskBit.Tests.Cli;
using MaskBit.Tests.Data;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>The Stage II loop and the token cache on the tiny generator preset, the golden tiny tokenizer (A) and a
/// tiny Fashion-MNIST-format data set made in the test.</summary>
[Collection(GlobalRngCollection.Name)]
public class GeneratorTrainerTests
{
    static string Tokenizer => Path.Combine(Golden.RepoCopy, "tokenizer_lfq_small", "model.bin");
    static string ConfigFile => Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml");

    static ExperimentConfig Config(CliRunner.TempDir tmp, string train, params string[] extra) =>
        ConfigLoader.Load(ConfigFile,
        [
            $"dataset.params.train_shards_path_or_url={train}", $"dataset.params.eval_shards_path_or_url=fashion-mnist:{tmp["fmnist"]}",
            "dataset.params.num_workers_per_gpu=1", "training.per_gpu_batch_size=8", "training.max_train_steps=4",
            "lr_scheduler.params.warmup_steps=2", "experiment.save_every=2", "experiment.eval_every=4", "experiment.generate_every=2",
            "experiment.log_every=1", "model.mlm_model.num_steps=2", "training.num_generated_images=1", .. extra,
        ]);

    /// <summary>The tiny data set and its token cache (encoded by the golden tokenizer, flipped copies added).</summary>
    static string Cache(CliRunner.TempDir tmp)
    {
        DataFixtures.FashionMnistFolder(tmp["fmnist"], 40, 16);
        var (code, stdout, stderr) = CliRunner.Run("pretokenize", "-c", ConfigFile, "--tokenizer", Tokenizer,
            "--data", $"fashion-mnist:{tmp["fmnist"]}", "--flip", "-o", tmp["cache"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote 80 token grids (8x8, codebook 1024) of 10 classes", stdout);
        return tmp["cache"];
    }

    [Fact]
    public void ResumeIsBitIdenticalAndTheFinishedRunExportsAModelFolder()
    {
        using var tmp = new CliRunner.TempDir();
        var config = Config(tmp, Cache(tmp));
        var straight = GeneratorTrainer.Run(config, new TrainingRunOptions { OutputDir = tmp["straight"] }, Tokenizer);
        Assert.Equal((4L, Path.Combine(tmp["straight"], "checkpoint-4")), (straight.Step, straight.FinalCheckpoint));
        var log = new List<string>();
        var stopped = GeneratorTrainer.Run(config, new TrainingRunOptions { OutputDir = tmp["resumed"], StopAtStep = 2, OnLog = log.Add }, Tokenizer);
        Assert.Null(RunExport.Write(config, Tokenizer, stopped)); // stopped early: nothing to export yet
        Assert.False(Directory.Exists(Path.Combine(tmp["resumed"], RunExport.FolderName)));
        GeneratorTrainer.Run(config, new TrainingRunOptions { OutputDir = tmp["resumed"], OnLog = log.Add }, Tokenizer);
        Assert.Contains(log, l => l.Contains("resumed from") && l.Contains("checkpoint-2"));

        using (var scope = NewDisposeScope())
        {
            var keys = CheckpointComparison.AssertBitIdentical(Path.Combine(tmp["straight"], "checkpoint-4"), Path.Combine(tmp["resumed"], "checkpoint-4"),
                TrainingFiles.Model, TrainingFiles.EmaModel, TrainingFiles.Optimizer);
            Assert.Contains("unwrapped_model/pytorch_model.bin:token_emb.weight", keys); // the released naming
        }
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(tmp["straight"], "train_generated_images"), "*.png"));
        Assert.Contains(File.ReadAllLines(Path.Combine(tmp["straight"], RunFolder.LogFile)), l => l.Contains("eval at step 4") && l.Contains("masked-token loss"));
        Assert.StartsWith("exported the model folder", RunExport.Write(config, Tokenizer, straight));
        Assert.EndsWith("not exported again", RunExport.Write(config, Tokenizer, straight));
        using var pipeline = MaskBitPipeline.FromFolder(Path.Combine(tmp["straight"], RunExport.FolderName));
        Assert.Contains("(EMA weights)", File.ReadAllText(Path.Combine(tmp["straight"], RunExport.FolderName, ModelFolder.CardFile)));
        Assert.Equal(10, pipeline.Classes.Count);
        Assert.Equal(7, pipeline.Classes.Resolve("sneaker"));
        using var images = pipeline.Generate([7], options: pipeline.Sampling with { NumSteps = 2 });
        Assert.Equal(new long[] { 1, 3, 32, 32 }, images.Images.shape);
    }

    [Fact]
    public void InitWeightStartsFromAnotherRunsWeightsAtStepZero()
    {
        using var tmp = new CliRunner.TempDir();
        var cache = Cache(tmp);
        GeneratorTrainer.Run(Config(tmp, cache, "training.max_train_steps=2"), new TrainingRunOptions { OutputDir = tmp["first"] }, Tokenizer);
        var init = Path.Combine(tmp["first"], "checkpoint-2", TrainingFiles.EmaModel); // the released naming (token_emb)
        // A zero learning rate leaves the weights where init_weight put them (AdamW's decay is scaled by the rate too).
        var log = new List<string>();
        GeneratorTrainer.Run(Config(tmp, cache, "training.max_train_steps=1", "optimizer.params.learning_rate=0", $"experiment.init_weight={init}"),
            new TrainingRunOptions { OutputDir = tmp["second"], OnLog = log.Add }, Tokenizer);
        Assert.Contains(log, l => l.Contains($"initialised the weights from {init}"));
        Assert.Contains(log, l => l.Contains("from step 0 to 1"));

        using var scope = NewDisposeScope();
        var expected = Checkpoint.ReadStateDict(init);
        foreach (var file in new[] { TrainingFiles.Model, TrainingFiles.EmaModel })
        {
            var got = Checkpoint.ReadStateDict(Path.Combine(tmp["second"], "checkpoint-1", file));
            Assert.Equal(expected.Keys.Order(), got.Keys.Order());
            foreach (var (k, t) in expected) Assert.True(t.equal(got[k]).all().item<bool>(), $"{file}: {k} is not the init_weight's");
        }
        // The first run's own model differs from its EMA after 2 steps, so the check above can tell them apart.
        var raw = Checkpoint.ReadStateDict(Path.Combine(tmp["first"], "checkpoint-2", TrainingFiles.Model));
        Assert.Contains(expected, kv => !kv.Value.equal(raw[kv.Key]).all().item<bool>());
    }

    [Fact]
    public void TrainingOnImagesEncodesThemOnTheFly()
    {
        using var tmp = new CliRunner.TempDir();
        DataFixtures.FashionMnistFolder(tmp["fmnist"], 40, 16);
        var log = new List<string>();
        GeneratorTrainer.Run(Config(tmp, $"fashion-mnist:{tmp["fmnist"]}", "training.max_train_steps=2"),
            new TrainingRunOptions { OutputDir = tmp["run"], OnLog = log.Add }, Tokenizer);
        Assert.Contains(log, l => l.Contains("encoded on the fly"));
        Assert.True(Directory.Exists(Path.Combine(tmp["run"], "checkpoint-2")));
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "other-tokenizer", "made by another tokenizer" },
        { "tokenizer-config", "model expects" },
        { "empty", "the data set is empty" },
        { "labels", "outside the 3 classes" },
        { "not-a-cache", "dataset.params.train_shards_path_or_url" },
        { "init-weight", "experiment.init_weight" },
        { "init", "SHA256SUMS" },
    };

    [Theory, MemberData(nameof(BadInputs))]
    public void BadInputIsOneLineBeforeTheFirstStep(string kind, string expected)
    {
        using var tmp = new CliRunner.TempDir();
        var cache = Cache(tmp);
        var config = Config(tmp, cache);
        var tokenizer = Tokenizer;
        switch (kind)
        {
            case "other-tokenizer":
                // The same architecture with one weight changed: same codebook, different fingerprint.
                var file = Checkpoint.ReadStateDict(Tokenizer);
                using (no_grad()) file["decoder.conv_out.bias"].add_(0.01f);
                tokenizer = tmp["other.bin"];
                Checkpoint.WriteStateDict(tokenizer, file);
                break;
            case "tokenizer-config": config = Config(tmp, cache, "model.vq_model.token_size=12", "model.vq_model.codebook_size=4096"); break;
            case "empty":
                DataFixtures.FashionMnistFolder(tmp["empty"], 0, 0);
                config = Config(tmp, $"fashion-mnist:{tmp["empty"]}");
                break;
            case "labels":
                var index = Path.Combine(cache, TokenCache.IndexFile);
                var json = JsonNode.Parse(File.ReadAllText(index))!;
                json["classes"] = new JsonArray("a", "b", "c");
                File.WriteAllText(index, json.ToJsonString());
                FileDigests.Write(cache);
                break;
            case "not-a-cache": config = Config(tmp, tmp["nowhere"]); break;
            case "init-weight": config = Config(tmp, cache, $"experiment.init_weight={tmp["no-such-generator.safetensors"]}"); break;
            case "init": Directory.CreateDirectory(tmp["empty-checkpoint"]); config = Config(tmp, cache, $"experiment.init_checkpoint={tmp["empty-checkpoint"]}"); break;
        }
        var e = Record.Exception(() => GeneratorTrainer.Run(config, new TrainingRunOptions { OutputDir = tmp["run"] }, tokenizer));
        Assert.NotNull(e);
        DataFixtures.OneLine(e);
        Assert.Contains(expected, e.Message);
        Assert.False(Directory.Exists(tmp["run"])); // nothing written before the first step
    }

    [Fact]
    public void TheCommandTrainsOnTheCacheAndNamesAMissingTokenizer()
    {
        using var tmp = new CliRunner.TempDir();
        var cache = Cache(tmp);
        string[] args = ["train-generator", "-c", ConfigFile, "--tokenizer", Tokenizer, "--set", $"dataset.params.train_shards_path_or_url={cache}",
            "--set", "training.per_gpu_batch_size=8", "--stop-at", "1", "-o", tmp["run"]];
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.True(code == 0, stderr);
        Assert.True(Directory.Exists(Path.Combine(tmp["run"], "checkpoint-1")));
        Assert.False(Directory.Exists(Path.Combine(tmp["run"], RunExport.FolderName)));
        // Resumed to the end (2 steps): the command exports the model folder.
        var (code2, stdout2, stderr2) = CliRunner.Run([.. args.Where((_, i) => i is not (9 or 10)), "--set", "training.max_train_steps=2"]);
        Assert.True(code2 == 0, stderr2);
        Assert.Contains("exported the model folder", stdout2);
        Assert.True(File.Exists(Path.Combine(tmp["run"], RunExport.FolderName, ModelFolder.GeneratorFile)));
        // Without --tokenizer: the preset's experiment.vqgan_checkpoint, a placeholder path, named in the error.
        CliRunner.AssertFailsWithOneLine([.. args.Where((_, i) => i is not (3 or 4))], "MODEL_PATH/tiny_tokenizer.bin");
    }
}
