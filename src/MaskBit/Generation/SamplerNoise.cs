namespace MaskBit.Generation;

/// <summary>
/// Every random draw of <see cref="Sampler"/>, in the original's order per step: first <see cref="Categorical"/>,
/// then <see cref="Gumbel"/>. Injectable so a test can replay a recorded trace (PyTorch's and libtorch 2.x's
/// categorical streams differ, so a seed cannot reproduce the original's samples).
/// </summary>
public interface ISamplerNoise
{
    /// <summary>probs [B, N, m, E] -> one independent class draw per element [B, N, m] int64, on probs' device.</summary>
    Tensor Categorical(Tensor probs, int step);

    /// <summary>Standard Gumbel(0, 1) draws of <paramref name="shape"/>, float32 (the original draws them on the CPU).</summary>
    Tensor Gumbel(long[] shape, int step);
}

/// <summary>
/// The default noise source: the original's <c>Categorical(probs).sample()</c> (one multinomial draw per element)
/// and <c>torch.distributions.Gumbel(0, 1).sample()</c> (one CPU <c>rand</c>, then <see cref="GumbelFromUniform"/>),
/// drawn from seeded torch generators (a second one on the sampling device when that is not the CPU).
/// </summary>
public sealed class SeededSamplerNoise : ISamplerNoise, IDisposable
{
    readonly Generator _cpu;
    readonly Generator _device;

    /// <param name="seed">Seed of both generators.</param>
    /// <param name="device">The device the sampler runs on (where the probabilities live); CPU when null.</param>
    public SeededSamplerNoise(ulong seed, Device? device = null)
    {
        _cpu = new Generator(seed);
        _device = device is null || device.type == DeviceType.CPU ? _cpu : new Generator(seed, device);
    }

    public Tensor Categorical(Tensor probs, int step)
    {
        using var scope = NewDisposeScope();
        var rows = probs.reshape(-1, probs.shape[^1]);                             // [B*N*m, E]
        var draws = torch.multinomial(rows, 1, replacement: true, generator: _device);
        return draws.view(probs.shape[..^1]).MoveToOuterDisposeScope();           // [B, N, m]
    }

    public Tensor Gumbel(long[] shape, int step)
    {
        using var scope = NewDisposeScope();
        return GumbelFromUniform(torch.rand(shape, ScalarType.Float32, generator: _cpu)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// PyTorch's Gumbel(0, 1) transform of a float32 uniform u in [0, 1): u' = tiny + u * ((1 - eps) - tiny) with float32
    /// tiny/eps (Uniform(tiny, 1 - eps)), then -log(-log(u')).
    /// </summary>
    public static Tensor GumbelFromUniform(Tensor u)
    {
        const float tiny = 1.17549435e-38f; // torch.finfo(float32).tiny = 2^-126
        const float eps = 1.1920929e-07f;   // torch.finfo(float32).eps = 2^-23
        using var scope = NewDisposeScope();
        var uniform = u.mul(Const((1f - eps) - tiny)).add(Const(tiny), One);
        return torch.log(torch.log(uniform).neg()).neg().MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        if (!ReferenceEquals(_device, _cpu)) _device.Dispose();
        _cpu.Dispose();
    }
}
