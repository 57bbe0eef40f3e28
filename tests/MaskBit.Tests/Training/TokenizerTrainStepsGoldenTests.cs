using System.Text.Json;
using MaskBit.Config;
using MaskBit.Interop;
using MaskBit.Networks;
using MaskBit.Tests.Evaluation;
using MaskBit.Training.Losses;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>
/// Five Stage I training steps against the original's (golden kind "tokenizer_train_steps": L): every logged loss
/// term, the learning rates, gradient norms, token indices, final and EMA weights, the discriminator and LeCam
/// buffers and the optimizer moments of one parameter.
/// </summary>
public class TokenizerTrainStepsGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("tokenizer_train_steps");
    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The case's config (the original's sections; optimizer and scheduler keys given flat) as ours.</summary>
    static ExperimentConfig Config(GoldenCase c)
    {
        var j = c.Json.GetProperty("config");
        T Section<T>(JsonElement e) => e.Deserialize<T>(Snake)!;
        var lr = j.GetProperty("lr_scheduler");
        return new ExperimentConfig
        {
            Model = new ModelConfig
            {
                VqModel = Section<VqModelConfig>(j.GetProperty("model").GetProperty("vq_model")),
                Discriminator = Section<DiscriminatorConfig>(j.GetProperty("model").GetProperty("discriminator")),
            },
            Losses = Section<LossesConfig>(j.GetProperty("losses")),
            Optimizer = new OptimizerConfig { Params = Section<OptimizerParamsConfig>(j.GetProperty("optimizer")) },
            LrScheduler = new LrSchedulerConfig
            {
                Scheduler = lr.GetProperty("scheduler").GetString()!,
                Params = new LrSchedulerParamsConfig { WarmupSteps = lr.GetProperty("warmup_steps").GetInt32() },
            },
            Training = Section<TrainingConfig>(j.GetProperty("training")) with { UseEma = true, Seed = null },
        };
    }

    [GoldenTheory("tokenizer_train_steps"), MemberData(nameof(Cases))]
    public void FiveStepsMatchTheOriginal(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        // The perceptual ResNet-50 carries the procedural weights of the feature_nets case (same rule and key order).
        var perceptual = new PerceptualLoss(new ResNet50(), onLogits: true);
        ProceduralWeights.Fill(perceptual, Golden.Case("feature_nets"), "resnet50_perceptual");
        using var state = new TokenizerTraining(Config(c), perceptual);
        Checkpoint.LoadInto(state.Model, c.ModelPath);
        using (no_grad())
        {
            var disc = state.Loss.Discriminator.state_dict();
            foreach (var key in c.Tensors.Keys.Where(k => k.StartsWith("disc_init.")))
                disc[key["disc_init.".Length..]].copy_(c[key]);
            Assert.Equal(disc.Count, c.Tensors.Keys.Count(k => k.StartsWith("disc_init.")));
        }

        int steps = c.Json.GetProperty("config").GetProperty("training").GetProperty("max_train_steps").GetInt32();
        for (int i = 0; i < steps; i++)
        {
            var x = c[$"step{i}.input"];
            using (no_grad()) c.AssertClose($"step{i}.indices", state.Model.Encode(x).MinEncodingIndices);
            var logs = state.Step([x]);
            foreach (var key in c.Tensors.Keys.Where(k => k.StartsWith($"step{i}.") && k != $"step{i}.input" && k != $"step{i}.indices"))
            {
                var logKey = key[$"step{i}.".Length..];
                Assert.True(logs.ContainsKey(logKey), $"step {i}: the trainer logs no '{logKey}'");
                c.AssertClose(key, tensor((float)logs[logKey]));
            }
        }

        var model = Checkpoint.StateDict(state.Model).ToDictionary(e => e.Key, e => e.Tensor);
        var shadows = state.Ema!.Shadows.ToDictionary(kv => kv.Key, kv => kv.Value);
        var discriminator = Checkpoint.StateDict(state.Loss.Discriminator).ToDictionary(e => e.Key, e => e.Tensor);
        var lossState = state.Loss.TrainableState.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var key in c.Tensors.Keys)
        {
            var dot = key.IndexOf('.');
            var (group, rest) = (key[..dot], key[(dot + 1)..]);
            switch (group)
            {
                case "final": c.AssertClose(key, model[rest]); break;
                case "ema": c.AssertClose(key, shadows[rest]); break;
                case "disc_final": c.AssertClose(key, discriminator[rest]); break;
                case "lecam": c.AssertClose(key, lossState[rest]); break;
                case "adam":
                    var moment = rest.EndsWith(".exp_avg_sq") ? "exp_avg_sq" : "exp_avg";
                    var param = rest[..^(moment.Length + 1)];
                    var s = state.Optimizer.State(param) ?? throw new InvalidOperationException($"no optimizer state for {param}");
                    c.AssertClose(key, moment == "exp_avg" ? s.ExpAvg : s.ExpAvgSq);
                    break;
            }
        }
        c.AssertEveryTensorChecked(_ => true, c.Tensors.Keys.Where(k => k.StartsWith("disc_init.") || k.EndsWith(".input"))
            .ToDictionary(k => k, _ => "input (starting discriminator, step inputs)"));
    }
}
