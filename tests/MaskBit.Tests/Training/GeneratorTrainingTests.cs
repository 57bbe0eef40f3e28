using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>One Stage II step, apart from the loop around it.</summary>
[Collection(GlobalRngCollection.Name)]
public class GeneratorTrainingTests
{
    [Fact]
    public void AStepTrainsWithDropoutWhateverModeSamplingLeftTheModelIn()
    {
        // The original's sample() leaves the generator in eval mode until the next epoch (fidelity Q13); here every
        // step sets train mode, so periodic sampling (which ends in eval mode, EMA weights swapped back) changes nothing.
        var cfg = ConfigLoader.Load(Path.Combine(Golden.RepoRoot, "configs", "presets", "tiny_generator.yaml"));
        var (vq, mlm) = (cfg.Model!.VqModel!, cfg.Model.MlmModel!);
        Assert.True(mlm.Dropout > 0);
        manual_seed(0);
        using var model = GeneratorFactory.Create(mlm, vq, cfg.Resolution);
        using var training = new GeneratorTraining(cfg, model);
        using var rng = new torch.Generator(0);
        using var tokens = randint(0, vq.EffectiveCodebookSize, [2, model.SeqLen], dtype: int64);
        using var labels = tensor(new long[] { 1, 2 });
        Ema.WithShadowWeights(training.Ema, () => model.eval());
        Assert.False(model.training);
        training.Step(tokens, labels, rng);
        Assert.True(model.training);
        Assert.All(model.modules().OfType<TorchSharp.Modules.Dropout>(), d => Assert.True(d.training));
    }
}
