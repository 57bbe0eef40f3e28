using System.Net;
using MaskBit.Editing;
using MaskBit.Imaging;
using MaskBit.Pipeline;
using MaskBit.Server;
using static TorchSharp.torch;

namespace MaskBit.Tests.Server;

/// <summary>The endpoints on the bundled model, in memory: each answer equals what the library gives for the same request.</summary>
[Collection(ServerCollection.Name)]
public class EndpointTests(BundledPipeline bundled)
{
    readonly MaskBitPipeline p = bundled.Pipeline;

    [Fact]
    public async Task HealthAndClassesDescribeTheModel()
    {
        var (server, client) = await Servers.InMemory(p);
        await using var _ = server;
        var h = await Servers.Health(client);
        Assert.Equal("ok", h.GetProperty("status").GetString());
        Assert.Equal(p.Classes.Count, h.GetProperty("classes").GetInt32());
        Assert.Equal(p.ImageSize, h.GetProperty("image_size").GetInt32());
        Assert.Equal(p.TokenGridSize, h.GetProperty("token_grid").GetInt32());
        Assert.Equal(p.TokenBits, h.GetProperty("token_bits").GetInt32());
        Assert.Equal(p.Sampling.NumSteps, h.GetProperty("sampling").GetProperty("num_steps").GetInt32());
        Assert.Equal(p.Sampling.GuidanceScale, h.GetProperty("sampling").GetProperty("guidance_scale").GetDouble());
        var classes = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/api/classes")).RootElement;
        Assert.Equal(p.Classes.Entries, classes.EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        var page = await client.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/app.js")).StatusCode);
    }

    RgbImage ExpectedGrid(int[] classes, int perClass, ulong seed, int steps, bool labels = true)
    {
        using var scope = NewDisposeScope();
        var (tokens, _) = p.SampleTokens(classes, perClass, p.Sampling with { NumSteps = steps }, seed, 8);
        var images = p.Detokenize(tokens);
        var rows = classes.Select((_, c) => (IReadOnlyList<Tensor>)Enumerable.Range(0, perClass).Select(k => images[c * perClass + k]).ToList()).ToList();
        return labels ? Images.Grid(rows, classes.Select(p.Classes.ShortName).ToList()) : Images.Grid(rows);
    }

    [Fact]
    public async Task GenerateGivesTheLibrarysGridAndTheStreamEndsOnIt()
    {
        var (server, client) = await Servers.InMemory(p);
        await using var _ = server;
        var expected = ExpectedGrid([7, 3], 2, 7, 6);
        var posted = await Servers.Png(await client.PostAsync("/api/generate", Servers.Json("""{"classes": ["Sneaker", 3], "per_class": 2, "seed": 7, "steps": 6}""")));
        Servers.Same(expected, posted);
        Servers.Same(ExpectedGrid([7, 3], 2, 7, 6, labels: false),
            await Servers.Png(await client.PostAsync("/api/generate", Servers.Json("""{"classes": [7, 3], "per_class": 2, "seed": 7, "steps": 6, "labels": false}"""))));

        var response = await client.GetAsync("/api/generate/stream?classes=sneaker,3&per_class=2&seed=7&steps=6");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Servers.Events(response);
        Assert.Equal(["queued", "step", "step", "step", "step", "step", "step", "done"], events.Select(e => e.Name));
        Assert.Equal([1, 2, 3, 4, 5, 6], events.Where(e => e.Name == "step").Select(e => e.Data.GetProperty("step").GetInt32()));
        var last = Servers.DataUrl(events[^2].Data.GetProperty("image").GetString()!);
        Servers.Same(expected, last);
        Servers.Same(expected, Servers.DataUrl(events[^1].Data.GetProperty("image").GetString()!));
        var first = Servers.DataUrl(events[1].Data.GetProperty("image").GetString()!);
        Assert.False(first.Pixels.SequenceEqual(last.Pixels), "the first step's grid already equals the last: nothing formed step by step");
    }

    [Fact]
    public async Task EditingEndpointsGiveTheLibrarysResults()
    {
        var (server, client) = await Servers.InMemory(p);
        await using var _ = server;
        var file = Servers.FixtureImage();
        var bytes = File.ReadAllBytes(file);
        var other = File.ReadAllBytes(Servers.FixtureImage(1));
        var rgb = Images.Read(file);
        using var x = p.ReadImages([file]);
        var steps = p.Sampling with { NumSteps = 8 };
        RgbImage First(EditResult r) { using (r) return RgbImage.FromTensor(r.Images[0]); }

        var box = p.MaskFromBox(new PixelBox(0, 0, 14, 14), rgb.Width, rgb.Height);
        Servers.Same(First(p.Inpaint(x, box, 8, steps, 5, blend: true)), await Servers.Png(await client.PostAsync("/api/inpaint",
            Servers.Form([("box", "0,0,14,14"), ("class", "Bag"), ("steps", "8"), ("seed", "5"), ("blend", "true")], ("image", bytes)))));

        var maskPixels = new byte[rgb.Width * rgb.Height * 3];
        Array.Fill(maskPixels, (byte)255, 0, rgb.Width * 10 * 3);  // the top 10 rows
        var maskImage = new RgbImage(rgb.Width, rgb.Height, maskPixels);
        var fromMask = p.MaskFromImage(maskImage, rgb.Width, rgb.Height).Dilate(1);
        Servers.Same(First(p.Inpaint(x, fromMask, 1, steps, 42)), await Servers.Png(await client.PostAsync("/api/inpaint",
            Servers.Form([("class", "1"), ("steps", "8"), ("dilate", "1")], ("image", bytes), ("mask", Images.EncodePng(maskImage))))));

        Servers.Same(First(p.Edit(x, 2, null, 0.5, steps, 9)), await Servers.Png(await client.PostAsync("/api/edit",
            Servers.Form([("class", "Pullover"), ("fraction", "0.5"), ("steps", "8"), ("seed", "9")], ("image", bytes)))));

        Servers.Same(First(p.Outpaint(x, new Extension(8, 8, 0, 4), 0, steps, 3)), await Servers.Png(await client.PostAsync("/api/outpaint",
            Servers.Form([("class", "0"), ("extend", "left=8,right=8,bottom=4"), ("steps", "8"), ("seed", "3")], ("image", bytes)))));

        Servers.Same(First(p.FlipBits(x, [0, 3], box)), await Servers.Png(await client.PostAsync("/api/bitflip",
            Servers.Form([("bits", "0,3"), ("box", "0,0,14,14")], ("image", bytes)))));

        using (var sweep = p.BitSweep(x))
            Servers.Same(Images.Grid(sweep.Images.unbind(0).Chunk(8).Select(r => (IReadOnlyList<Tensor>)r).ToList()),
                await Servers.Png(await client.PostAsync("/api/bitflip", Servers.Form([], ("image", bytes)))));

        using (var y = p.ReadImages([Servers.FixtureImage(1)]))
        using (var path = p.Interpolate(x, y, 5, 11))
            Servers.Same(Images.Grid([path.Images.unbind(0)]), await Servers.Png(await client.PostAsync("/api/interpolate",
                Servers.Form([("steps", "5"), ("seed", "11")], ("from", bytes), ("to", other)))));

        Servers.Same(p.ModelView(rgb), await Servers.Png(await client.PostAsync("/api/view", Servers.Form([], ("image", bytes)))));
    }

    [Fact]
    public async Task AClientThatGoesAwayStopsItsWork()
    {
        var (server, client) = await Servers.InMemory(p);
        await using var _ = server;
        using var cts = new CancellationTokenSource();
        // 60 images x 256 steps in 8 batches: minutes of work if it were not stopped.
        var response = await client.GetAsync("/api/generate/stream?per_class=6&steps=256", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        while (await reader.ReadLineAsync(cts.Token) is { } line && line != "event: step") { }
        cts.Cancel();
        response.Dispose();
        await Servers.Until(async () => (await Servers.Health(client)).GetProperty("queue").GetProperty("cancelled").GetInt64() == 1
            && !(await Servers.Health(client)).GetProperty("queue").GetProperty("running").GetBoolean(), "the cancelled job ends");
        long steps = server.State.StepsRun;
        Assert.True(steps < 8 * 256, $"the work ran all its {steps} steps");
        await Task.Delay(300);
        Assert.Equal(steps, server.State.StepsRun);
        Servers.Same(ExpectedGrid([1], 1, 42, 4), await Servers.Png(await client.PostAsync("/api/generate", Servers.Json("""{"classes": [1], "per_class": 1, "steps": 4}"""))));
    }

    [Fact]
    public async Task AFullQueueAnswers429WithRetryAfterAndALateRequest504()
    {
        var (server, client) = await Servers.InMemory(p, new ServeOptions { QueueCapacity = 1, RequestTimeout = TimeSpan.FromSeconds(3) });
        await using var _ = server;
        const string Long = """{"per_class": 6, "steps": 256}""";
        var running = client.PostAsync("/api/generate", Servers.Json(Long));
        await Servers.Until(async () => (await Servers.Health(client)).GetProperty("queue").GetProperty("running").GetBoolean(), "the first job runs");
        var waiting = client.PostAsync("/api/generate", Servers.Json(Long));
        await Servers.Until(async () => (await Servers.Health(client)).GetProperty("queue").GetProperty("waiting").GetInt32() == 1, "the second job waits");
        var refused = await client.PostAsync("/api/generate", Servers.Json(Long));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta?.TotalSeconds >= 1, "no Retry-After");
        Assert.Contains("busy", await refused.Content.ReadAsStringAsync());
        foreach (var slow in new[] { await running, await waiting })
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
            Assert.Contains("longer than 3 s", await slow.Content.ReadAsStringAsync());
        }
        await Servers.Until(async () => !(await Servers.Health(client)).GetProperty("queue").GetProperty("running").GetBoolean(), "the timed-out job stops");
        var q = (await Servers.Health(client)).GetProperty("queue");
        Assert.Equal((2L, 1L, 0), (q.GetProperty("timed_out").GetInt64(), q.GetProperty("rejected").GetInt64(), q.GetProperty("waiting").GetInt32()));
    }
}
