using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Interop;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>
/// Four Stage II training steps against the original's (golden kind "generator_train_steps": M), fed the recorded
/// masks and label drops: loss, learning rate and gradient norm of each step, the final and EMA weights, and the Adam
/// moments of one parameter.
/// </summary>
public class GeneratorTrainStepsGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("generator_train_steps");

    [GoldenTheory("generator_train_steps"), MemberData(nameof(Cases))]
    public void FourStepsMatchTheOriginal(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        var j = c.Json.GetProperty("config");
        var m = j.GetProperty("mlm_model");
        var opt = j.GetProperty("optimizer");
        var training = j.GetProperty("training");
        var config = new ExperimentConfig
        {
            Model = new ModelConfig { MlmModel = new MlmModelConfig { Dropout = 0.0, CodebookSplits = m.GetProperty("codebook_splits").GetInt32() } },
            Losses = new LossesConfig { Mlm = new MlmLossConfig { LabelSmoothing = 0.1, SumSplits = false } },
            Optimizer = new OptimizerConfig
            {
                Params = new OptimizerParamsConfig
                {
                    LearningRate = opt.GetProperty("learning_rate").GetDouble(), Beta1 = opt.GetProperty("beta1").GetDouble(),
                    Beta2 = opt.GetProperty("beta2").GetDouble(), WeightDecay = opt.GetProperty("weight_decay").GetDouble(),
                    Epsilon = opt.GetProperty("epsilon").GetDouble(),
                },
            },
            LrScheduler = new LrSchedulerConfig
            {
                Scheduler = j.GetProperty("lr_scheduler").GetProperty("scheduler").GetString()!,
                Params = new LrSchedulerParamsConfig { WarmupSteps = j.GetProperty("lr_scheduler").GetProperty("warmup_steps").GetInt32() },
            },
            Training = new TrainingConfig
            {
                MaxTrainSteps = training.GetProperty("max_train_steps").GetInt32(), MaxGradNorm = training.GetProperty("max_grad_norm").GetDouble(),
                EmaDecay = training.GetProperty("ema_decay").GetDouble(), UseEma = true,
            },
        };
        using var model = new LfqBert(m.GetProperty("img_size").GetInt32(), m.GetProperty("hidden_dim").GetInt32(), 1 << m.GetProperty("token_bits").GetInt32(),
            m.GetProperty("codebook_splits").GetInt32(), m.GetProperty("depth").GetInt32(), m.GetProperty("heads").GetInt32(),
            m.GetProperty("mlp_dim").GetInt32(), 0.0, 1000, m.GetProperty("input_stride").GetInt32(), m.GetProperty("use_prenorm").GetBoolean());
        Checkpoint.LoadInto(model, c.ModelPath, LfqBert.ReleasedKeyRenames);
        using var state = new GeneratorTraining(config, model);

        var inputs = new[] { "tokens", "masked_tokens", "masks", "class_labels", "drop_label_mask" };
        for (int i = 0; i < config.Training.MaxTrainSteps; i++)
        {
            string K(string k) => $"step{i}.{k}";
            var logs = state.Step(c[K("tokens")], c[K("masked_tokens")], c[K("masks")], c[K("class_labels")], c[K("drop_label_mask")]);
            foreach (var key in new[] { "lr", "loss", "grad_norm" }) c.AssertClose(K(key), tensor((float)logs[key]));
        }
        var final = Checkpoint.StateDict(model).ToDictionary(e => Checkpoint.RenameKey(e.Key, model.SavingKeyRenames), e => e.Tensor);
        var shadows = state.Ema!.Shadows.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var key in c.Tensors.Keys)
        {
            if (key.StartsWith("final.")) c.AssertClose(key, final[key["final.".Length..]]);
            else if (key.StartsWith("ema.")) c.AssertClose(key, shadows[key["ema.".Length..]]);
            else if (key.StartsWith("adam."))
            {
                var rest = key["adam.".Length..];
                var moment = rest.EndsWith(".exp_avg_sq") ? "exp_avg_sq" : "exp_avg";
                var s = state.Optimizer.State(rest[..^(moment.Length + 1)])!.Value;
                c.AssertClose(key, moment == "exp_avg" ? s.ExpAvg : s.ExpAvgSq);
            }
        }
        c.AssertEveryTensorChecked(_ => true, c.Tensors.Keys.Where(k => inputs.Any(n => k.EndsWith("." + n)))
            .ToDictionary(k => k, _ => "recorded input of the step (tokens, masks, labels, label drops)"));
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.25)]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void LabelsAreDroppedAtTheConfiguredRateAndAStepOnDrawnMasksTrains(double dropout)
    {
        using var scope = NewDisposeScope();
        using var model = new LfqBert(32, 32, 1024, 2, 1, 2, 64, 0.0, 10, 4, false);
        var config = new ExperimentConfig
        {
            Model = new ModelConfig { MlmModel = new MlmModelConfig { ClassLabelDropout = dropout, CodebookSplits = 2 } },
            Training = new TrainingConfig { MaxTrainSteps = 10, UseEma = false },
        };
        using var state = new GeneratorTraining(config, model);
        double rate = state.DrawLabelDrops(200_000, new Generator(2)).to(float64).mean().item<double>();
        Assert.InRange(rate, dropout - 0.005, dropout + 0.005);

        var tokens = randint(0, 1024, [8, 64], generator: new Generator(1));
        var logs = state.Step(tokens, randint(0, 10, [8], generator: new Generator(4)), new Generator(3));
        Assert.True(double.IsFinite(logs["loss"]) && logs["lr"] == 0.0); // the first update has rate 0 (warm-up from 0)
        Assert.Equal(1, state.GlobalStep);
    }
}
