using System.Net;
using System.Text.Json;
using MaskBit.Generation;
using MaskBit.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MaskBit.Server;

/// <summary>What every endpoint shares: the one pipeline, the queue in front of it, the limits, and a count of the
/// decoding steps run (so that a test can see that a cancelled request's work stopped).</summary>
public sealed class ServerState(MaskBitPipeline pipeline, ModelQueue queue, ServeOptions options)
{
    public MaskBitPipeline Pipeline { get; } = pipeline;
    public ModelQueue Queue { get; } = queue;
    public ServeOptions Options { get; } = options;
    /// <summary>The model's class names, named in errors without the server's file path.</summary>
    public ClassNames Classes { get; } = new(pipeline.Classes.Entries, "model");
    long _stepsRun;
    public long StepsRun => Interlocked.Read(ref _stepsRun);
    public void StepRun() => Interlocked.Increment(ref _stepsRun);

    /// <summary>The snake_case JSON every endpoint writes.</summary>
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}

/// <summary>
/// <c>maskbit serve</c>: an ASP.NET Core minimal API over one loaded <see cref="MaskBitPipeline"/> (the caller owns it
/// and disposes it after this), the static page at <c>/</c>, Kestrel on <see cref="ServeOptions.Host"/>:<see cref="ServeOptions.Port"/>
/// with the body limit. <paramref name="configure"/> may change the builder before it is built (tests put a TestServer in).
/// </summary>
public sealed class ServerApp : IAsyncDisposable
{
    public WebApplication App { get; }
    public ServerState State { get; }

    ServerApp(WebApplication app, ServerState state)
    {
        App = app;
        State = state;
    }

    public static ServerApp Create(MaskBitPipeline pipeline, ServeOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        options.Validate();
        if (pipeline.Generator is null) throw new ArgumentException("serve needs a model with a generator (generate, inpaint, edit and outpaint sample from it)");
        var address = ListenAddress(options.Host);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.Limits.MaxConcurrentConnections = 512;
            k.AddServerHeader = false;
            if (address is null) k.ListenLocalhost(options.Port);
            else k.Listen(address, options.Port);
        });
        builder.Services.Configure<JsonOptions>(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddSingleton(options);
        configure?.Invoke(builder);
        var app = builder.Build();
        var state = new ServerState(pipeline, new ModelQueue(options.QueueCapacity, options.RequestTimeout), options);
        ErrorHandling.Use(app);
        InfoEndpoints.Map(app, state);
        GenerateEndpoints.Map(app, state);
        EditEndpoints.Map(app, state);
        StaticPage.Map(app);
        return new ServerApp(app, state);
    }

    static IPAddress? ListenAddress(string host) =>
        host == "localhost" ? null
            : IPAddress.TryParse(host, out var ip) ? ip
            : throw new ArgumentException($"--host '{host}': expected an IP address (127.0.0.1, 0.0.0.0, ::) or localhost");

    /// <summary>Starts listening (Kestrel, or what <c>configure</c> put in).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => App.StartAsync(cancellationToken);

    /// <summary>Until the host stops (Ctrl+C, SIGTERM).</summary>
    public Task WaitForShutdownAsync() => App.WaitForShutdownAsync();

    /// <summary>The address Kestrel listens on, once started (the real port when <see cref="ServeOptions.Port"/> is 0).</summary>
    public string Address => App.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
        .Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? throw new InvalidOperationException("the server is not listening");

    /// <summary>Stops taking requests, ends the waiting ones (503), lets the running one stop, and shuts the host down.</summary>
    public async ValueTask DisposeAsync()
    {
        State.Queue.Dispose();
        await App.DisposeAsync();
    }
}
