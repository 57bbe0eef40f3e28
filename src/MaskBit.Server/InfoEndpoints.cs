using MaskBit.Generation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MaskBit.Server;

/// <summary><c>GET /api/health</c> and <c>GET /api/classes</c>: what the model is and does, answered without the queue
/// (so they answer while the model is busy).</summary>
static class InfoEndpoints
{
    public static void Map(WebApplication app, ServerState state)
    {
        var p = state.Pipeline;
        var generator = p.Generator!;
        app.MapGet("/api/health", () =>
        {
            var q = state.Queue.Counts;
            var o = state.Options;
            return Results.Json(new
            {
                status = "ok",
                model = p.Config.Experiment?.Name ?? "maskbit",
                classes = p.Classes.Count,
                image_size = p.ImageSize,
                token_grid = p.TokenGridSize,
                token_bits = p.TokenBits,
                codebook_splits = generator.Splits,
                sampling = p.Sampling,
                presets = SamplingOptions.Presets.Keys,
                limits = new
                {
                    max_images = o.MaxImages, max_steps = o.MaxSteps, max_body_bytes = o.MaxBodyBytes, max_image_pixels = o.MaxImagePixels,
                    max_interpolation_points = o.MaxInterpolationPoints, queue_capacity = o.QueueCapacity, request_timeout_s = o.RequestTimeout.TotalSeconds,
                },
                queue = new
                {
                    waiting = q.Waiting, running = q.Running, completed = q.Completed, failed = q.Failed, cancelled = q.Cancelled,
                    timed_out = q.TimedOut, rejected = q.Rejected, mean_seconds = Math.Round(q.MeanSeconds, 3),
                },
                steps_run = state.StepsRun,
            }, ServerState.Json);
        });
        app.MapGet("/api/classes", () => Results.Json(
            Enumerable.Range(0, p.Classes.Count).Select(i => new { index = i, name = p.Classes.Name(i), short_name = p.Classes.ShortName(i) }),
            ServerState.Json));
    }
}
