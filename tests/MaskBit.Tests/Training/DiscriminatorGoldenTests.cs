using System.Text.Json;
using MaskBit.Config;
using MaskBit.Interop;
using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>The VQGAN+ discriminator and the GAN losses against the original (golden kind "discriminator": C).</summary>
public class DiscriminatorGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("discriminator");

    internal static DiscriminatorConfig Config(GoldenCase c) =>
        c.Json.GetProperty("config").GetProperty("model").GetProperty("discriminator")
            .Deserialize<DiscriminatorConfig>(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!;

    [GoldenTheory("discriminator"), MemberData(nameof(Cases))]
    public void LogitsAndLossesMatch(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        var d = new Discriminator(Config(c));
        Checkpoint.LoadInto(d, c.ModelPath);
        Assert.Equal(c.Json.GetProperty("num_parameters").GetInt64(), d.parameters().Sum(p => p.numel()));
        d.eval();
        using var _ = no_grad();
        foreach (var suffix in new[] { "", "_fake", "_b", "_c" })
            c.AssertClose("logits" + suffix, d.call(c["input" + suffix]));

        var (real, fake) = (c["logits"], c["logits_fake"]);
        c.AssertClose("hinge_d_loss", GanLosses.DiscriminatorLoss("hinge", real, fake));
        c.AssertClose("hinge_g_loss", GanLosses.GeneratorLoss("hinge", fake));
        c.AssertClose("vanilla_d_loss", GanLosses.DiscriminatorLoss("vanilla", real, fake));
        c.AssertClose("non_saturating_d_loss", GanLosses.DiscriminatorLoss("non-saturating", real, fake));
        c.AssertClose("non_saturating_g_loss", GanLosses.GeneratorLoss("non-saturating", fake));
        c.AssertClose("lecam_loss", GanLosses.LeCam(real.mean(), fake.mean(), c["lecam_ema_real"], c["lecam_ema_fake"]));
        c.AssertEveryTensorChecked(_ => true, new Dictionary<string, string>
        {
            ["input"] = "input", ["input_fake"] = "input", ["input_b"] = "input", ["input_c"] = "input",
            ["lecam_ema_real"] = "input (LeCam EMA state)", ["lecam_ema_fake"] = "input (LeCam EMA state)",
        });
    }

    [Fact]
    public void ClosedFormsOfTheGanLosses()
    {
        using var scope = NewDisposeScope();
        var real = tensor(new float[] { 2f, 0.5f, -1f });
        var fake = tensor(new float[] { -2f, 0.25f });
        // hinge: 0.5 * (mean(relu(1 - r)) + mean(relu(1 + f))) = 0.5 * ((0 + 0.5 + 2) / 3 + (0 + 1.25) / 2)
        Assert.Equal(0.5 * (2.5 / 3 + 1.25 / 2), GanLosses.DiscriminatorLoss("hinge", real, fake).item<float>(), 5);
        Assert.Equal(0.875, GanLosses.GeneratorLoss("hinge", fake).item<float>(), 5);
        double Sp(double x) => Math.Log(1 + Math.Exp(x));
        Assert.Equal(0.5 * ((Sp(-2) + Sp(-0.5) + Sp(1)) / 3 + (Sp(-2) + Sp(0.25)) / 2), GanLosses.DiscriminatorLoss("vanilla", real, fake).item<float>(), 5);
        // BCE(l, 1) = softplus(-l), BCE(l, 0) = softplus(l)
        Assert.Equal((Sp(-2) + Sp(-0.5) + Sp(1)) / 3 + (Sp(-2) + Sp(0.25)) / 2, GanLosses.DiscriminatorLoss("non-saturating", real, fake).item<float>(), 5);
        Assert.Equal((Sp(2) + Sp(-0.25)) / 2, GanLosses.GeneratorLoss("non-saturating", fake).item<float>(), 5);
        // LeCam: relu(r - ema_f)^2 + relu(ema_r - f)^2
        Assert.Equal(0.25 + 0.0, GanLosses.LeCam(tensor(0.3f), tensor(0.5f), tensor(0.2f), tensor(-0.2f)).item<float>(), 6);
        Assert.Contains("hinge, vanilla, non-saturating", Assert.Throws<ArgumentException>(() => GanLosses.GeneratorLoss("wasserstein", fake)).Message);
    }
}
