using System.Text.RegularExpressions;
using MaskBit.Generation;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MaskBit.Tests.Generation;

/// <summary>
/// Mask, guidance and unmasking schedules against the original (golden kind "schedules": F). The LR (<c>lr.*</c>)
/// and EMA (<c>ema.*</c>) keys belong to the training code: Training/TrainingSchedulesGoldenTests checks them.
/// </summary>
public class SchedulesGoldenTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => Golden.CaseNames("schedules");
    static readonly string[] NotCheckedHere = ["lr.", "ema."];

    [GoldenTheory("schedules"), MemberData(nameof(Cases))]
    public void SchedulesMatch(string name)
    {
        var c = Golden.Case(name);
        var f32 = c.Json.GetProperty("tolerances").GetProperty("float32_values");
        (double, double) tol = (f32.GetProperty("atol").GetDouble(), f32.GetProperty("rtol").GetDouble());
        var checkedKeys = new HashSet<string>();
        void Check(string key, Tensor actual)
        {
            Golden.AssertClose(c[key], actual, c[key].is_floating_point() ? tol : null, $"{name}:{key}");
            checkedKeys.Add(key);
        }
        using var scope = NewDisposeScope();

        var progress = c["mask_ratio.progress"].data<float>().ToArray();
        checkedKeys.Add("mask_ratio.progress");
        foreach (var mode in new[] { "root", "square", "cosine", "arccos", "linear" })
            Check($"mask_ratio.{mode}", tensor(progress.Select(p => Masking.GetMaskingRatio(p, mode)).ToArray()));

        checkedKeys.Add("train_mask_prob.r");
        foreach (var mode in new[] { "linear", "square", "cosine", "arccos" })
            Check($"train_mask_prob.{mode}", Masking.TrainMaskProbability(c["train_mask_prob.r"], mode));

        checkedKeys.UnionWith(["get_mask_tokens.tokens", "get_mask_tokens.r_draw", "get_mask_tokens.element_draws"]);
        var (masked, mask) = Masking.MaskTokensFromDraws(c["get_mask_tokens.tokens"], 32, "arccos",
            c["get_mask_tokens.r_draw"], c["get_mask_tokens.element_draws"]);
        Check("get_mask_tokens.masked_tokens", masked);
        Check("get_mask_tokens.mask", mask);
        // TorchSharp's CPU generator reproduces PyTorch's rand stream, so the seeded call (two draws, in the
        // original's order) gives the same result as the stated torch.manual_seed did.
        var seed = Regex.Match(c.Json.GetProperty("tensors").GetProperty("get_mask_tokens.r_draw").GetProperty("description").GetString()!, @"manual_seed\((\d+)\)");
        Assert.True(seed.Success, $"{name}: get_mask_tokens.r_draw does not state its seed");
        using (var rng = new Generator(ulong.Parse(seed.Groups[1].Value)))
        {
            var (seededMasked, seededMask) = Masking.GetMaskTokens(c["get_mask_tokens.tokens"], 32, "arccos", rng);
            Check("get_mask_tokens.masked_tokens", seededMasked);
            Check("get_mask_tokens.mask", seededMask);
        }

        var guidance = new Regex(@"^guidance_scale_step\.(none|linear|cosine)(?:\.pow([0-9.]+))?\.steps(\d+)$");
        var unmask = new Regex(@"^unmask\.M(\d+)\.steps(\d+)\.masked_before$");
        foreach (var key in c.Tensors.Keys.ToList())
        {
            if (guidance.Match(key) is { Success: true } g)
            {
                int steps = int.Parse(g.Groups[3].Value);
                double pow = g.Groups[2].Success ? double.Parse(g.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : 4.0;
                Check(key, tensor(Enumerable.Range(0, steps).Select(i => Sampler.GuidanceScaleStep(i, steps, g.Groups[1].Value, pow)).ToArray()));
            }
            else if (unmask.Match(key) is { Success: true } u)
            {
                var prefix = key[..^".masked_before".Length];
                var schedule = Sampler.UnmaskSchedule(int.Parse(u.Groups[2].Value), int.Parse(u.Groups[1].Value), "arccos");
                Check($"{prefix}.masked_before", tensor(schedule.Select(s => s.MaskedBefore).ToArray()));
                Check($"{prefix}.mask_ratio", tensor(schedule.Select(s => s.MaskRatio).ToArray()));
                Check($"{prefix}.masked_after", tensor(schedule.Select(s => s.MaskedAfter).ToArray()));
                Check($"{prefix}.unmasked_this_step", tensor(schedule.Select(s => s.MaskedBefore - s.MaskedAfter).ToArray()));
            }
        }

        var unchecked_ = c.Tensors.Keys.Where(k => !checkedKeys.Contains(k)).ToList();
        output.WriteLine($"not checked here ({unchecked_.Count}): {string.Join(", ", unchecked_)}");
        Assert.All(unchecked_, k => Assert.True(NotCheckedHere.Any(k.StartsWith) || k.StartsWith("rng."), $"{name}: key '{k}' is checked by no test"));
    }
}
