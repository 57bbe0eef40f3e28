using System.Net.Http.Headers;
using System.Text.Json;
using MaskBit.Imaging;
using MaskBit.Pipeline;
using MaskBit.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;

namespace MaskBit.Tests.Server;

/// <summary>The bundled model, loaded once for every server test; the tests run one after another (one model, one worker).</summary>
public sealed class BundledPipeline : IDisposable
{
    public MaskBitPipeline Pipeline { get; } = MaskBitPipeline.FromFolder(Path.Combine(Golden.RepoRoot, "models", "fmnist"));
    public void Dispose() => Pipeline.Dispose();
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<BundledPipeline>
{
    public const string Name = "Server";
}

/// <summary>Servers for tests: in memory (TestServer) or on real Kestrel on a free loopback port; requests and PNGs.</summary>
static class Servers
{
    public static async Task<(ServerApp Server, HttpClient Client)> InMemory(MaskBitPipeline p, ServeOptions? options = null)
    {
        var server = ServerApp.Create(p, options ?? new ServeOptions(), b => b.WebHost.UseTestServer());
        await server.StartAsync();
        return (server, server.App.GetTestClient());
    }

    public static async Task<(ServerApp Server, HttpClient Client)> Kestrel(MaskBitPipeline p, ServeOptions? options = null)
    {
        var server = ServerApp.Create(p, (options ?? new ServeOptions()) with { Host = "127.0.0.1", Port = 0 });
        await server.StartAsync();
        return (server, new HttpClient { BaseAddress = new Uri(server.Address), Timeout = TimeSpan.FromSeconds(120) });
    }

    public static string FixtureImage(int n = 0) =>
        Directory.GetFiles(Path.Combine(Golden.RepoRoot, "tests", "fixtures", "fashion-mnist-test", "0")).Order().ElementAt(n);

    public static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    /// <summary>A multipart body: text fields, and files as (field, bytes).</summary>
    public static MultipartFormDataContent Form(IEnumerable<(string Name, string Value)> fields, params (string Name, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        foreach (var (name, bytes) in files)
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(content, name, name + ".png");
        }
        return form;
    }

    public static async Task<RgbImage> Png(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body)}");
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        return Images.Decode(body, "response");
    }

    public static RgbImage DataUrl(string url) => Images.Decode(Convert.FromBase64String(url["data:image/png;base64,".Length..]), "data url");

    public static void Same(RgbImage expected, RgbImage actual)
    {
        Assert.Equal((expected.Width, expected.Height), (actual.Width, actual.Height));
        Assert.True(expected.Pixels.AsSpan().SequenceEqual(actual.Pixels), "the images differ");
    }

    public static async Task<JsonElement> Health(HttpClient client) =>
        JsonDocument.Parse(await client.GetStringAsync("/api/health")).RootElement;

    /// <summary>The events of a server-sent-event body: (name, data JSON).</summary>
    public static async Task<List<(string Name, JsonElement Data)>> Events(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(frame =>
        {
            var lines = frame.Split('\n');
            return (lines[0]["event: ".Length..], JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement);
        }).ToList();
    }

    /// <summary>Polls until <paramref name="done"/> holds (or fails after <paramref name="seconds"/>).</summary>
    public static async Task Until(Func<Task<bool>> done, string what, double seconds = 60)
    {
        var end = DateTime.UtcNow.AddSeconds(seconds);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < end, $"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }
}
