using MaskBit.Generation;

namespace MaskBit.Server;

/// <summary>The sampler's knobs of a request, named as the CLI's flags (<c>steps</c>, <c>guidance</c>,
/// <c>temperature</c>, ...): the model's settings, then a <c>preset</c>, then each knob given.</summary>
static class Sampling
{
    public static SamplingOptions Read(RequestFields f, ServerState state)
    {
        int maxSteps = state.Options.MaxSteps;
        var options = new SamplingOverrides(
            f.Text("preset"),
            f.Int("steps", 1, maxSteps),
            f.Number("guidance", -1000, 1000),
            f.Text("guidance_annealing"),
            f.Number("scale_pow", 0, 100),
            f.Number("temperature", 0, 1000),
            f.Number("softmax_temperature", 1e-3, 1000),
            f.Text("schedule")).Apply(state.Pipeline.Sampling);
        if (options.NumSteps > maxSteps)
            throw new ApiError(400, $"steps: the preset or model asks for {options.NumSteps}, this server allows at most {maxSteps}; give steps");
        return options;
    }

    /// <summary>A progress callback for the model's work: counts the step and stops the work when its request is gone.</summary>
    public static Action<T> Checked<T>(ServerState state, CancellationToken token) => _ =>
    {
        token.ThrowIfCancellationRequested();
        state.StepRun();
    };
}
