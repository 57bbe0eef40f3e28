using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using static TorchSharp.torch;

namespace MaskBit.Server;

/// <summary>
/// <c>POST /api/generate</c> (JSON -> the PNG grid of <c>maskbit generate</c>: a row per class, labelled unless
/// <c>labels</c> is false) and
/// <c>GET /api/generate/stream</c> (the same fields in the query -> server-sent events: <c>queued</c>, a <c>step</c>
/// with the grid decoded from every step's prediction, <c>done</c> with the final grid, or <c>failed</c> with the error;
/// not <c>error</c>, which an <c>EventSource</c> also fires for a dropped connection).
/// </summary>
static class GenerateEndpoints
{
    /// <summary>A checked generation request; <see cref="Classes"/> null: the model's default classes.</summary>
    sealed record Request(IReadOnlyList<int>? Classes, int PerClass, ulong Seed, int BatchSize, bool Labels, SamplingOptions Options);

    public static void Map(WebApplication app, ServerState state)
    {
        app.MapPost("/api/generate", async (HttpContext context) =>
        {
            if (!context.Request.HasJsonContentType())
                throw new ApiError(415, "expected a JSON body (Content-Type: application/json)");
            using var body = await JsonDocument.ParseAsync(context.Request.Body, new JsonDocumentOptions { MaxDepth = 8 }, context.RequestAborted);
            var request = Read(RequestFields.FromJson(body.RootElement), state);
            var png = await state.Queue.Run(token => Render(state, request, token, null), context.RequestAborted);
            return Results.File(png, "image/png");
        });

        app.MapGet("/api/generate/stream", async (HttpContext context) =>
        {
            var request = Read(RequestFields.FromText(context.Request.Query), state);
            // A slow client sees the newest frames, not a growing backlog.
            var frames = Channel.CreateBounded<string>(new BoundedChannelOptions(2) { FullMode = BoundedChannelFullMode.DropOldest });
            var clock = Stopwatch.StartNew();
            var job = state.Queue.Run(token =>
            {
                try { return Render(state, request, token, frames.Writer); }
                finally { frames.Writer.TryComplete(); }
            }, context.RequestAborted);  // 429 here, before the stream starts

            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";  // nginx: pass each event on at once
            await Send(response, "queued", JsonSerializer.Serialize(new { waiting = state.Queue.Counts.Waiting }), context.RequestAborted);
            await foreach (var frame in frames.Reader.ReadAllAsync(context.RequestAborted))
                await Send(response, "step", frame, context.RequestAborted);
            try
            {
                var png = await job;
                await Send(response, "done", JsonSerializer.Serialize(new { image = DataUrl(png), seconds = Math.Round(clock.Elapsed.TotalSeconds, 2) }), context.RequestAborted);
            }
            catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
            {
                var (status, message, _) = ErrorHandling.Classify(e, state.Options.MaxBodyBytes);
                await Send(response, "failed", JsonSerializer.Serialize(new { error = message, status }), context.RequestAborted);
            }
            return Results.Empty;
        });
    }

    static Request Read(RequestFields f, ServerState state)
    {
        var p = state.Pipeline;
        int max = state.Options.MaxImages;
        var classes = f.List("classes", max)?.Select(ResolveClass).ToList();
        var request = new Request(classes is { Count: > 0 } ? classes : null, f.Int("per_class", 1, max) ?? 4,
            f.Seed("seed") ?? 42, f.Int("batch_size", 1, max) ?? 8, f.Flag("labels") ?? true, Sampling.Read(f, state));
        f.CheckAllRead();
        int count = (request.Classes?.Count ?? DefaultClassCount(p)) * request.PerClass;
        if (count > max) throw new ApiError(400, $"{count} images asked for (classes x per_class), this server makes at most {max} per request");
        return request;

        int ResolveClass(string c)
        {
            try { return state.Classes.Resolve(c); }
            catch (ArgumentException e) { throw new ApiError(400, $"classes: {e.Message}"); }
        }
    }

    // How many classes DefaultClasses gives, without drawing them (ImageNet: the original's ten demo labels).
    static int DefaultClassCount(MaskBitPipeline p) =>
        ReferenceEquals(p.Classes, ClassNames.ImageNet) ? 10 : p.Classes.Count;

    // On the model's thread: samples, decodes and lays out the grid; with frames, also the grid of every step's prediction
    // (images of later batches grey until their batch runs).
    static byte[] Render(ServerState state, Request request, CancellationToken token, ChannelWriter<string>? frames)
    {
        using var scope = NewDisposeScope();
        var p = state.Pipeline;
        var classes = request.Classes ?? p.DefaultClasses(request.Seed);
        int n = request.PerClass, total = classes.Count * n, s = p.ImageSize;
        var grey = new RgbImage(s, s, Enumerable.Repeat((byte)128, s * s * 3).ToArray());
        var cells = Enumerable.Repeat(grey, total).ToArray();
        var labels = classes.Select(p.Classes.ShortName).ToList();
        byte[] Grid()
        {
            var rows = Enumerable.Range(0, classes.Count).Select(c => (IReadOnlyList<RgbImage>)cells.Skip(c * n).Take(n).ToList()).ToList();
            return Images.EncodePng(request.Labels ? Images.Grid(rows, labels) : Images.Grid(rows));
        }

        Action<GenerationProgress, Tensor>? onPrediction = frames is null ? null : (progress, prediction) =>
        {
            var decoded = p.Detokenize(prediction);                                  // [b, 3, S, S], in the step's scope
            int first = (progress.Batch - 1) * request.BatchSize;
            for (int i = 0; i < decoded.shape[0]; i++) cells[first + i] = RgbImage.FromTensor(decoded[i]);
            frames.TryWrite(JsonSerializer.Serialize(new
            {
                step = progress.Step, steps = progress.Steps, batch = progress.Batch, batches = progress.Batches, image = DataUrl(Grid()),
            }));
        };
        var (tokens, _) = p.SampleTokens(classes, n, request.Options, request.Seed, request.BatchSize,
            Sampling.Checked<GenerationProgress>(state, token), token, onPrediction);
        var images = p.Detokenize(tokens);                                              // [N, 3, S, S]
        for (int i = 0; i < total; i++) cells[i] = RgbImage.FromTensor(images[i]);
        return Grid();
    }

    static string DataUrl(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    static async Task Send(HttpResponse response, string name, string data, CancellationToken token)
    {
        await response.WriteAsync($"event: {name}\ndata: {data}\n\n", token);
        await response.Body.FlushAsync(token);
    }
}
