using MaskBit.Training;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>LR multipliers and EMA decays against the original (the <c>lr.*</c> and <c>ema.*</c> keys of golden kind "schedules": F).</summary>
public class TrainingSchedulesGoldenTests
{
    public static TheoryData<string> Cases => Golden.CaseNames("schedules");

    [GoldenTheory("schedules"), MemberData(nameof(Cases))]
    public void LrMultipliersMatchInFloat64(string name)
    {
        var c = Golden.Case(name);
        var steps = c["lr.steps"].data<long>().ToArray();
        var exact = c.Json.GetProperty("scalars_float64");
        var tol = c.Json.GetProperty("tolerances").GetProperty("lr_multipliers");
        double rtol = tol.GetProperty("rtol").GetDouble(), atol = tol.GetProperty("atol").GetDouble();
        int checkedSchedules = 0;
        foreach (var s in c.Json.GetProperty("lr_schedulers").EnumerateObject())
        {
            var p = s.Value;
            var schedule = new LrSchedule(p.GetProperty("name").GetString()!,
                p.TryGetProperty("num_warmup_steps", out var w) ? w.GetInt32() : 0,
                p.TryGetProperty("num_training_steps", out var t) ? t.GetInt32() : 0,
                p.GetProperty("minimum_rate").ValueKind == System.Text.Json.JsonValueKind.Number ? p.GetProperty("minimum_rate").GetDouble() : 0.1);
            var expected = exact.GetProperty($"lr.{s.Name}").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(steps.Length, expected.Length);
            for (int i = 0; i < steps.Length; i++)
            {
                double actual = schedule.Multiplier(steps[i]);
                Assert.True(Math.Abs(actual - expected[i]) <= atol + rtol * Math.Abs(expected[i]),
                    $"lr.{s.Name} at step {steps[i]}: {actual:R} != {expected[i]:R}");
            }
            using var scope = NewDisposeScope();
            c.AssertClose($"lr.{s.Name}", tensor(steps.Select(st => (float)schedule.Multiplier(st)).ToArray()));
            checkedSchedules++;
        }
        Assert.Equal(8, checkedSchedules);
        // The optimizer's rate after 0..3 scheduler steps: base * f(g).
        var cosine = new LrSchedule("cosine_with_minimum", 5000, 1_350_000, BaseLr: 1e-4);
        var rates = exact.GetProperty("lr.cosine_with_minimum.optimizer_lr_after_0_1_2_3_scheduler_steps").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        for (int g = 0; g < rates.Length; g++) Assert.Equal(rates[g], cosine.LearningRate(g), 15);
    }

    [GoldenTheory("schedules"), MemberData(nameof(Cases))]
    public void EmaDecaysAndUpdatesMatch(string name)
    {
        using var scope = NewDisposeScope();
        var c = Golden.Case(name);
        var k = c["ema.optimization_step"].data<long>().ToArray();
        c.AssertClose("ema.decay_0.999", tensor(k.Select(s => (float)Ema.DecayAt(s, 0.999)).ToArray()));
        c.AssertClose("ema.decay_0.9999", tensor(k.Select(s => (float)Ema.DecayAt(s, 0.9999)).ToArray()));

        var holder = nn.Linear(4, 1, hasBias: false);
        using (no_grad()) holder.weight!.copy_(c["ema.sim.initial_shadow"].view(1, 4));
        using var ema = new Ema(holder, 0.999);
        var parameters = c["ema.sim.params"];
        var shadows = new List<Tensor>();
        for (int n = 0; n < parameters.shape[0]; n++)
        {
            using (no_grad()) holder.weight!.copy_(parameters[n].view(1, 4));
            ema.Step();
            shadows.Add(ema.Shadows.Single().Value.view(4).clone());
        }
        c.AssertClose("ema.sim.shadow_after_step", stack(shadows));
    }
}
