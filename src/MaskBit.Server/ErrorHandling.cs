using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MaskBit.Server;

/// <summary>
/// Every failure ends as <c>{"error": "one line"}</c> with a 4xx naming the cause (bad input, too large, busy) or,
/// only for the server's own faults, a 5xx; a client that went away gets nothing and leaves no error behind.
/// </summary>
static class ErrorHandling
{
    public static void Use(WebApplication app)
    {
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("maskbit.serve");
        long limit = app.Services.GetRequiredService<ServeOptions>().MaxBodyBytes;
        app.Use(async (context, next) =>
        {
            try { await next(context); }
            catch (Exception) when (context.RequestAborted.IsCancellationRequested) { } // the client is gone: nobody to tell
            catch (Exception e)
            {
                var (status, message, retryAfter) = Classify(e, limit);
                if (status == 500) log.LogError(e, "{Method} {Path}: {Message}", context.Request.Method, context.Request.Path, message);
                if (context.Response.HasStarted) { context.Abort(); return; }
                context.Response.Clear();
                context.Response.StatusCode = status;
                if (retryAfter is int s) context.Response.Headers.RetryAfter = s.ToString();
                await Write(context, message);
            }
        });
        // Routing's own answers (404 no such endpoint, 405 wrong method) get the same JSON body.
        app.UseStatusCodePages(async sc =>
        {
            var c = sc.HttpContext;
            string message = c.Response.StatusCode switch
            {
                404 => $"no endpoint {c.Request.Method} {c.Request.Path}",
                405 => $"{c.Request.Method} is not allowed on {c.Request.Path}",
                var code => $"HTTP {code}",
            };
            await Write(c, message);
        });
    }

    static Task Write(HttpContext context, string message)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { error = OneLine(message) }));
    }

    /// <summary>The status, message and Retry-After seconds for a failure.</summary>
    internal static (int Status, string Message, int? RetryAfter) Classify(Exception e, long bodyLimit) => e switch
    {
        ApiError a => (a.Status, a.Message, a.RetryAfter),
        BadHttpRequestException { StatusCode: 413 } => (413, $"the request body is larger than the {bodyLimit:N0}-byte limit", null),
        BadHttpRequestException b => (b.StatusCode, b.Message, null),
        JsonException j => (400, $"malformed JSON: {j.Message}", null),
        // The form reader's own limits (multipart sections, values) read as too large, its parse errors as bad input.
        InvalidDataException d when d.Message.Contains("limit", StringComparison.OrdinalIgnoreCase) => (413, d.Message, null),
        InvalidDataException or ArgumentException or FormatException => (400, e.Message, null),
        _ => (500, $"internal error: {e.Message}", null),
    };

    static string OneLine(string s) => string.Join(' ', s.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
}
