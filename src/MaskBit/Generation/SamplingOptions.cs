namespace MaskBit.Generation;

/// <summary>
/// The test-time knobs of the original's <c>sample()</c> (fidelity 5), the one place they are declared. Bound from the
/// sampling keys of <c>model.mlm_model</c> (YAML names are the property names in snake_case), then overridden with
/// <c>with { NumSteps = 256 }</c>, by CLI flags or by <c>--set model.mlm_model.num_steps=256</c>.
/// Defaults, where a config is silent (demo.yaml), are <c>sample()</c>'s keyword defaults, except the schedule: arccos,
/// which every config and the original's demo pass (the keyword default, linear, is used by no caller).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Decoding steps T (one generator forward over the doubled batch each).</summary>
    public int NumSteps { get; init; } = 12;
    /// <summary>Classifier-free guidance scale; 0 = one conditional forward per step, no guidance.</summary>
    public double GuidanceScale { get; init; } = 3.0;
    /// <summary>none, linear or cosine: the ramp that multiplies <see cref="GuidanceScale"/> at step i.</summary>
    public string GuidanceAnnealing { get; init; } = "none";
    /// <summary>Exponent of the cosine guidance ramp.</summary>
    public double ScalePow { get; init; } = 4.0;
    /// <summary>Generation mask schedule: arccos, cosine, linear, square or root.</summary>
    public string GenMaskScheduleStrategy { get; init; } = "arccos";
    public double SoftmaxTemperature { get; init; } = 1.0;
    /// <summary>Scale of the Gumbel noise added to the log confidences (annealed by 1 - (i+1)/T).</summary>
    public double RandomizeTemperature { get; init; } = 4.5;
    /// <summary>Replaces the softmax temperature by 0.5 + 0.8 * (1 - (i+1)/T).</summary>
    public bool UseSamplingAnnealing { get; init; }

    static readonly string[] Annealings = ["none", "linear", "cosine"];

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first knob out of range.</summary>
    public SamplingOptions Validate()
    {
        if (NumSteps < 1) throw new ArgumentOutOfRangeException(nameof(NumSteps), $"num_steps must be >= 1, got {NumSteps}");
        if (!Annealings.Contains(GuidanceAnnealing))
            throw new ArgumentException($"unknown guidance_annealing '{GuidanceAnnealing}': expected none, linear or cosine");
        if (!Masking.GenerationModes.Contains(GenMaskScheduleStrategy))
            throw new ArgumentException($"unknown gen_mask_schedule_strategy '{GenMaskScheduleStrategy}': expected one of {string.Join(", ", Masking.GenerationModes)}");
        if (!(SoftmaxTemperature > 0)) throw new ArgumentException($"softmax_temperature must be > 0, got {SoftmaxTemperature}");
        if (!(RandomizeTemperature >= 0)) throw new ArgumentException($"randomize_temperature must be >= 0, got {RandomizeTemperature}");
        if (!double.IsFinite(GuidanceScale)) throw new ArgumentException($"guidance_scale must be finite, got {GuidanceScale}");
        return this;
    }

    static SamplingOptions Official(int steps, double guidance, double temperature, double scalePow) => new()
    {
        NumSteps = steps, GuidanceScale = guidance, GuidanceAnnealing = "cosine", ScalePow = scalePow,
        GenMaskScheduleStrategy = "arccos", SoftmaxTemperature = 1.0, RandomizeTemperature = temperature,
    };

    /// <summary>The released 14-bit generator's settings at 64 steps (maskbit_generator_14bit.yaml, FID 1.62).</summary>
    public static SamplingOptions Official64Steps { get; } = Official(64, 7.1, 7.8, 3.0);
    /// <summary>The same generator at 128 steps (maskbit_generator_14bit_128steps.yaml, FID 1.56).</summary>
    public static SamplingOptions Official128Steps { get; } = Official(128, 7.1, 9.0, 3.0);
    /// <summary>The same generator at 256 steps (maskbit_generator_14bit_256steps.yaml, FID 1.52).</summary>
    public static SamplingOptions Official256Steps { get; } = Official(256, 5.8, 10.3, 3.0);

    /// <summary>The settings of every official generator config, by the config's name without <c>maskbit_generator_</c>.</summary>
    public static IReadOnlyDictionary<string, SamplingOptions> Presets { get; } = new Dictionary<string, SamplingOptions>
    {
        ["10bit"] = Official(64, 6.4, 10.5, 2.5),
        ["12bit"] = Official(64, 7.1, 8.2, 3.0),
        ["14bit"] = Official64Steps,
        ["14bit_128steps"] = Official128Steps,
        ["14bit_256steps"] = Official256Steps,
        ["16bit"] = Official(64, 6.5, 7.5, 2.5),
        ["18bit"] = Official(64, 5.7, 8.5, 2.5),
    };

    /// <summary>A preset by name, or an error listing the names.</summary>
    public static SamplingOptions Preset(string name) => Presets.TryGetValue(name, out var o) ? o
        : throw new ArgumentException($"unknown sampling preset '{name}' (presets: {string.Join(", ", Presets.Keys)})");
}

/// <summary>
/// What a caller asks of the sampler on top of a model's settings (CLI flags, a server request): a preset replaces the
/// settings, then each knob given replaces its value. Null means "not given".
/// </summary>
public sealed record SamplingOverrides(string? Preset = null, int? NumSteps = null, double? GuidanceScale = null,
    string? GuidanceAnnealing = null, double? ScalePow = null, double? RandomizeTemperature = null,
    double? SoftmaxTemperature = null, string? GenMaskScheduleStrategy = null)
{
    /// <summary>The settings to sample with, validated: the preset or <paramref name="modelDefaults"/>, then each knob given.</summary>
    public SamplingOptions Apply(SamplingOptions modelDefaults)
    {
        var b = Preset is null ? modelDefaults : SamplingOptions.Preset(Preset);
        return (b with
        {
            NumSteps = NumSteps ?? b.NumSteps,
            GuidanceScale = GuidanceScale ?? b.GuidanceScale,
            GuidanceAnnealing = GuidanceAnnealing ?? b.GuidanceAnnealing,
            ScalePow = ScalePow ?? b.ScalePow,
            RandomizeTemperature = RandomizeTemperature ?? b.RandomizeTemperature,
            SoftmaxTemperature = SoftmaxTemperature ?? b.SoftmaxTemperature,
            GenMaskScheduleStrategy = GenMaskScheduleStrategy ?? b.GenMaskScheduleStrategy,
        }).Validate();
    }
}
