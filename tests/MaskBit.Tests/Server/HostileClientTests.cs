using System.Net;
using System.Net.Sockets;
using System.Text;
using MaskBit.Imaging;
using MaskBit.Pipeline;
using MaskBit.Server;

namespace MaskBit.Tests.Server;

/// <summary>
/// Bad input of every kind gets a 4xx with a one-line reason (never a 500), in memory and on real Kestrel (which alone
/// enforces the body limit); a hostile client (all of it at once, broken connections, a flood past the queue) leaves a
/// server that still answers.
/// </summary>
[Collection(ServerCollection.Name)]
public class HostileClientTests(BundledPipeline bundled)
{
    readonly MaskBitPipeline p = bundled.Pipeline;

    /// <summary>A bad request: what to send, the status and a part of the reason expected.</summary>
    public sealed record Bad(string Name, Func<HttpClient, Task<HttpResponseMessage>> Send, int Status, string Reason)
    {
        public override string ToString() => Name;
    }

    static byte[] Image => File.ReadAllBytes(Servers.FixtureImage());
    static byte[] Huge => Images.EncodePng(new RgbImage(5000, 4000, new byte[5000 * 4000 * 3]));  // small file, 20 M pixels

    static Task<HttpResponseMessage> Generate(HttpClient c, string json) => c.PostAsync("/api/generate", Servers.Json(json));
    static Task<HttpResponseMessage> Edit(HttpClient c, string path, (string, string)[] fields, params (string, byte[])[] files) =>
        c.PostAsync(path, Servers.Form(fields, files));

    public static IEnumerable<Bad> Cases() =>
    [
        new("malformed JSON", c => Generate(c, "{\"classes\": [1"), 400, "malformed JSON"),
        new("JSON array", c => Generate(c, "[1, 2]"), 400, "JSON object"),
        new("too deep JSON", c => Generate(c, new string('[', 100) + new string(']', 100)), 400, "malformed JSON"),
        new("wrong type", c => Generate(c, """{"per_class": "four"}"""), 400, "per_class: expected an integer"),
        new("fraction for a count", c => Generate(c, """{"per_class": 1.5}"""), 400, "per_class"),
        new("unknown class", c => Generate(c, """{"classes": ["sneakr"]}"""), 400, "unknown model class 'sneakr'"),
        new("class out of range", c => Generate(c, """{"classes": [10]}"""), 400, "out of range"),
        new("no server path in errors", c => Generate(c, """{"classes": ["zzz"]}"""), 400, "classes: unknown model class"),
        new("zero per class", c => Generate(c, """{"per_class": 0}"""), 400, "per_class"),
        new("too many images", c => Generate(c, """{"per_class": 7}"""), 400, "at most 64"),
        new("too many steps", c => Generate(c, """{"steps": 100000}"""), 400, "steps: expected an integer 1..256"),
        new("negative seed", c => Generate(c, """{"seed": -1}"""), 400, "seed"),
        new("infinite guidance", c => Generate(c, """{"guidance": 1e999}"""), 400, "guidance"),
        new("unknown annealing", c => Generate(c, """{"guidance_annealing": "sideways"}"""), 400, "guidance_annealing"),
        new("unknown preset", c => Generate(c, """{"preset": "99bit"}"""), 400, "preset"),
        new("unknown field", c => Generate(c, """{"per_clas": 2}"""), 400, "unknown field 'per_clas'"),
        new("field twice", c => Generate(c, """{"seed": 1, "seed": 2}"""), 400, "given twice"),
        new("not JSON", c => c.PostAsync("/api/generate", new StringContent("classes=1")), 415, "JSON body"),
        new("bad stream query", c => c.GetAsync("/api/generate/stream?steps=abc"), 400, "steps"),
        new("stream field twice", c => c.GetAsync("/api/generate/stream?seed=1&seed=2"), 400, "given 2 times"),
        new("inpaint without region", c => Edit(c, "/api/inpaint", [("class", "1")], ("image", Image)), 400, "needs a region"),
        new("inpaint without class", c => Edit(c, "/api/inpaint", [("box", "0,0,8,8")], ("image", Image)), 400, "class: missing"),
        new("inpaint without image", c => Edit(c, "/api/inpaint", [("box", "0,0,8,8"), ("class", "1")]), 400, "image: missing"),
        new("not an image", c => Edit(c, "/api/inpaint", [("box", "0,0,8,8"), ("class", "1")], ("image", Encoding.UTF8.GetBytes("this is no picture"))), 400, "cannot decode image"),
        new("empty image", c => Edit(c, "/api/bitflip", [], ("image", [])), 400, "empty"),
        new("huge image", c => Edit(c, "/api/view", [], ("image", Huge)), 400, "pixels accepted"),
        new("mask of another size", c => Edit(c, "/api/inpaint", [("class", "1")], ("image", Image), ("mask", Images.EncodePng(new RgbImage(5, 5, new byte[75])))), 400, "expected the same size"),
        new("mask and box", c => Edit(c, "/api/inpaint", [("class", "1"), ("box", "0,0,8,8")], ("image", Image), ("mask", Image)), 400, "not both"),
        new("box outside", c => Edit(c, "/api/inpaint", [("class", "1"), ("box", "0,0,99,8")], ("image", Image)), 400, "not inside"),
        new("box malformed", c => Edit(c, "/api/inpaint", [("class", "1"), ("box", "0,0,8")], ("image", Image)), 400, "four integers"),
        new("unknown file field", c => Edit(c, "/api/bitflip", [], ("image", Image), ("picture", Image)), 400, "unknown file field 'picture'"),
        new("unknown text field", c => Edit(c, "/api/bitflip", [("bit", "1")], ("image", Image)), 400, "unknown field 'bit'"),
        new("bit beyond the token", c => Edit(c, "/api/bitflip", [("bits", "10")], ("image", Image)), 400, "beyond the 10-bit tokens"),
        new("bit not a number", c => Edit(c, "/api/bitflip", [("bits", "a")], ("image", Image)), 400, "bits"),
        new("fraction zero", c => Edit(c, "/api/edit", [("class", "1"), ("fraction", "0")], ("image", Image)), 400, "fraction"),
        new("extend malformed", c => Edit(c, "/api/outpaint", [("class", "1"), ("extend", "up=8")], ("image", Image)), 400, "extension"),
        new("extend too far", c => Edit(c, "/api/outpaint", [("class", "1"), ("extend", "left=1000")], ("image", Image)), 400, "per side"),
        new("one-point path", c => Edit(c, "/api/interpolate", [("steps", "1")], ("from", Image), ("to", Image)), 400, "steps"),
        new("path without its end", c => Edit(c, "/api/interpolate", [], ("from", Image)), 400, "to: missing"),
        new("JSON to a form endpoint", c => c.PostAsync("/api/inpaint", Servers.Json("{}")), 415, "multipart/form-data"),
        new("no such endpoint", c => c.GetAsync("/api/../../etc/passwd"), 404, "no endpoint"),
        new("wrong method", c => c.DeleteAsync("/api/generate"), 405, "not allowed"),
    ];

    public static TheoryData<Bad> CaseData() => [.. Cases()];

    static async Task Check(Bad bad, HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(bad.Status == (int)response.StatusCode, $"{bad.Name}: expected {bad.Status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
        Assert.Contains(bad.Reason, error);
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain(Golden.RepoRoot, error);
    }

    [Theory]
    [MemberData(nameof(CaseData))]
    public async Task BadInputGets4xxWithTheReason(Bad bad)
    {
        var (server, client) = await Servers.InMemory(p);
        await using var _ = server;
        await Check(bad, await bad.Send(client));
    }

    [Fact]
    public async Task BodiesOverTheLimitGet413OnKestrel()
    {
        var (server, client) = await Servers.Kestrel(p, new ServeOptions { MaxBodyBytes = 64 << 10 });
        await using var _ = server;
        using (client)
        {
            var json = await Generate(client, $$"""{"classes": ["{{new string('a', 100_000)}}"]}""");
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, json.StatusCode);
            Assert.Contains("65,536-byte limit", await json.Content.ReadAsStringAsync());
            var form = await Edit(client, "/api/view", [], ("image", new byte[100_000]));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, form.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/health")).StatusCode);
        }
    }

    [Fact]
    public async Task AHostileClientLeavesAServerThatStillAnswers()
    {
        var (server, client) = await Servers.Kestrel(p, new ServeOptions { QueueCapacity = 2 });
        await using var _ = server;
        using (client)
        {
            var port = new Uri(server.Address).Port;
            // Every bad input at once, broken connections beside them, and a flood of valid work past the queue's bound.
            var bad = Cases().Select(async b => { await Check(b, await b.Send(client)); return 0; });
            var flood = Enumerable.Range(0, 24).Select(async i =>
                (int)(await Generate(client, $$"""{"classes": [{{i % 10}}], "per_class": 2, "steps": 16, "seed": {{i}}}""")).StatusCode);
            var broken = Enumerable.Range(0, 8).Select(async i =>
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, port);
                var stream = socket.GetStream();
                var junk = i % 2 == 0 ? "POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"cla"
                    : "\u0001\u0002 NOT HTTP AT ALL\r\n\r\n";
                await stream.WriteAsync(Encoding.Latin1.GetBytes(junk));
                return 0;  // closed half-way
            });
            await Task.WhenAll(bad.Concat(broken));
            var statuses = await Task.WhenAll(flood);
            Assert.All(statuses, s => Assert.True(s is 200 or 429, $"flood request got {s}"));
            Assert.Contains(429, statuses);
            Assert.Contains(200, statuses);
            Assert.Equal("ok", (await Servers.Health(client)).GetProperty("status").GetString());
            await Servers.Png(await Generate(client, """{"classes": [5], "per_class": 1, "steps": 4}"""));
        }
    }
}
