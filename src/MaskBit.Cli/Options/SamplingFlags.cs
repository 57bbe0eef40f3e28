using System.CommandLine;
using MaskBit.Generation;

namespace MaskBit.Cli.Options;

/// <summary>
/// The sampler's knobs as flags (<c>generate</c> and the editing commands): the model's settings
/// (<c>model.mlm_model</c>, see <see cref="SamplingOptions"/>), then a <c>--preset</c>, then each flag.
/// </summary>
sealed class SamplingFlags
{
    readonly Option<string?> _preset = new("--preset") { Description = $"Sampling settings of an official config: {string.Join(", ", SamplingOptions.Presets.Keys)} (default: the model's config)" };
    readonly Option<int?> _steps = new("--steps") { Description = "Decoding steps (num_steps)" };
    readonly Option<double?> _guidance = new("--guidance") { Description = "Classifier-free guidance scale (guidance_scale)" };
    readonly Option<string?> _annealing = new("--guidance-annealing") { Description = "none | linear | cosine (guidance_annealing)" };
    readonly Option<double?> _scalePow = new("--scale-pow") { Description = "Exponent of the cosine guidance ramp (scale_pow)" };
    readonly Option<double?> _temperature = new("--temperature") { Description = "Gumbel noise temperature on the confidences, annealed to 0 (randomize_temperature)" };
    readonly Option<double?> _softmaxTemperature = new("--softmax-temperature") { Description = "Softmax temperature (softmax_temperature)" };
    readonly Option<string?> _schedule = new("--schedule") { Description = "Mask schedule: arccos | cosine | linear | square | root (gen_mask_schedule_strategy)" };

    public SamplingFlags(string stepsDescription = "Decoding steps (num_steps)") => _steps.Description = stepsDescription;

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { _preset, _steps, _guidance, _annealing, _scalePow, _temperature, _softmaxTemperature, _schedule })
            command.Options.Add(o);
    }

    /// <summary>The flags that need no model, checked before one is loaded: the preset (null when none) and --steps.</summary>
    public SamplingOptions? Preset(ParseResult r)
    {
        if (r.GetValue(_steps) is int s && s < 1) throw new ArgumentException($"--steps must be >= 1, got {s}");
        return r.GetValue(_preset) is { } name ? SamplingOptions.Preset(name) : null;
    }

    /// <summary>The settings to sample with: the preset or <paramref name="modelDefaults"/>, overridden by each flag given.</summary>
    public SamplingOptions Resolve(ParseResult r, SamplingOptions modelDefaults)
    {
        Preset(r);
        return new SamplingOverrides(r.GetValue(_preset), r.GetValue(_steps), r.GetValue(_guidance), r.GetValue(_annealing),
            r.GetValue(_scalePow), r.GetValue(_temperature), r.GetValue(_softmaxTemperature), r.GetValue(_schedule)).Apply(modelDefaults);
    }
}
