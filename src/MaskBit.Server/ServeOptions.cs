namespace MaskBit.Server;

/// <summary>
/// Where <c>maskbit serve</c> listens and what it accepts. Every limit turns a request into a one-line 4xx, never a
/// 500: the model is shared by everyone, so no request may hold it longer or harder than these allow.
/// </summary>
public sealed record ServeOptions
{
    /// <summary>An IP address or <c>localhost</c>; loopback unless set otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0: any free port (the one taken is printed and in <see cref="ServerApp.Address"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Requests that may wait for the model while one runs; more get 429 with Retry-After.</summary>
    public int QueueCapacity { get; init; } = 8;
    /// <summary>From arrival to the end of the model's work, queue wait included; then 504 and the work stops.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Largest request body (JSON or multipart); 413 beyond.</summary>
    public long MaxBodyBytes { get; init; } = 8 << 20;
    /// <summary>Largest decoded upload (width x height), checked from the file's header before decoding.</summary>
    public long MaxImagePixels { get; init; } = 4096L * 4096;
    /// <summary>Images per generate request (classes x per_class).</summary>
    public int MaxImages { get; init; } = 64;
    /// <summary>Decoding steps per request.</summary>
    public int MaxSteps { get; init; } = 256;
    /// <summary>Points of an interpolation path.</summary>
    public int MaxInterpolationPoints { get; init; } = 16;

    /// <summary>The options, checked: a one-line error naming the first bad one.</summary>
    public ServeOptions Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"port must be 0..65535, got {Port}");
        if (QueueCapacity < 0) throw new ArgumentException($"the queue capacity must be >= 0, got {QueueCapacity}");
        if (RequestTimeout <= TimeSpan.Zero) throw new ArgumentException($"the request timeout must be positive, got {RequestTimeout.TotalSeconds} s");
        if (MaxBodyBytes < 1024) throw new ArgumentException($"the body limit must be at least 1 KiB, got {MaxBodyBytes} bytes");
        if (MaxImagePixels < 1 || MaxImages < 1 || MaxSteps < 1 || MaxInterpolationPoints < 2)
            throw new ArgumentException("the image, step and point limits must be positive (points >= 2)");
        return this;
    }
}
