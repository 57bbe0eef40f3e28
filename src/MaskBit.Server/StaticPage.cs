using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MaskBit.Server;

/// <summary>
/// The page: <c>wwwroot/</c>'s files, embedded in the assembly (an installed tool has no content folder), served at
/// <c>/</c> and by name, with a content security policy that allows nothing from elsewhere.
/// </summary>
static class StaticPage
{
    const string Prefix = "wwwroot/";
    const string Policy = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'";

    static readonly Dictionary<string, string> Types = new()
    {
        [".html"] = "text/html; charset=utf-8", [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8", [".svg"] = "image/svg+xml",
    };

    public static void Map(WebApplication app)
    {
        var assembly = typeof(StaticPage).Assembly;
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var name = resource[Prefix.Length..];
            var bytes = Read(assembly, resource);
            var type = Types.GetValueOrDefault(Path.GetExtension(name), "application/octet-stream");
            IResult Serve(HttpContext context)
            {
                context.Response.Headers.ContentSecurityPolicy = Policy;
                context.Response.Headers.XContentTypeOptions = "nosniff";
                context.Response.Headers.CacheControl = "no-cache";
                return Results.Bytes(bytes, type);
            }
            app.MapGet("/" + name, Serve);
            if (name == "index.html") app.MapGet("/", Serve);
        }
    }

    static byte[] Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
