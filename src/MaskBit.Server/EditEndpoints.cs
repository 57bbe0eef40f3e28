using MaskBit.Editing;
using MaskBit.Imaging;
using MaskBit.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using static TorchSharp.torch;

namespace MaskBit.Server;

/// <summary>
/// The editing endpoints, multipart with the image(s) and the fields of the CLI command of the same name
/// (<c>maskbit inpaint --box ... --class ... --steps ...</c> is <c>box=..., class=..., steps=...</c>), each -> a PNG:
/// <c>/api/inpaint</c>, <c>/api/edit</c>, <c>/api/outpaint</c> (the result image), <c>/api/bitflip</c> (the result, or
/// without <c>bits</c> one image per bit, 8 a row), <c>/api/interpolate</c> (the path, one row) and <c>/api/view</c>
/// (an image as the model sees it: resized and centre-cropped, what the page edits).
/// </summary>
static class EditEndpoints
{
    const int SweepColumns = 8;

    public static void Map(WebApplication app, ServerState state)
    {
        var p = state.Pipeline;

        MapEdit(app, state, "/api/inpaint", u =>
        {
            var image = u.Image("image", required: true)!;
            var region = Region.Read(u);
            int label = Class(u.Fields, state);
            var options = Sampling.Read(u.Fields, state);
            ulong seed = u.Fields.Seed("seed") ?? 42;
            bool blend = u.Fields.Flag("blend") ?? false;
            u.CheckAllRead();
            if (region.IsNone) throw new ApiError(400, "inpaint needs a region: give a mask file or a box x0,y0,x1,y1");
            return token =>
            {
                using var scope = NewDisposeScope();
                using var result = p.Inpaint(p.ReadImages([image]), region.Resolve(p, image)!, label, options, seed, blend, Sampling.Checked<GenerationProgress>(state, token));
                return Png(result.Images[0]);
            };
        });

        MapEdit(app, state, "/api/edit", u =>
        {
            var image = u.Image("image", required: true)!;
            var region = Region.Read(u);
            int label = Class(u.Fields, state);
            double fraction = u.Fields.Number("fraction", 0, 1) ?? 1.0;
            if (fraction == 0) throw new ApiError(400, "fraction: expected a share of the tokens in (0, 1], got 0");
            var options = Sampling.Read(u.Fields, state);
            ulong seed = u.Fields.Seed("seed") ?? 42;
            u.CheckAllRead();
            return token =>
            {
                using var scope = NewDisposeScope();
                using var result = p.Edit(p.ReadImages([image]), label, region.Resolve(p, image), fraction, options, seed, Sampling.Checked<GenerationProgress>(state, token));
                return Png(result.Images[0]);
            };
        });

        MapEdit(app, state, "/api/outpaint", u =>
        {
            var image = u.Image("image", required: true)!;
            var extension = Extension.Parse(u.Fields.Text("extend") ?? throw new ApiError(400, "extend: missing (pixels per side: left=16,right=16,top=0,bottom=0)"));
            int label = Class(u.Fields, state);
            var options = Sampling.Read(u.Fields, state);
            ulong seed = u.Fields.Seed("seed") ?? 42;
            u.CheckAllRead();
            var t = extension.ToTokens(p.Tokenizer.DownsamplingFactor);
            int g = p.TokenGridSize;
            if (new[] { t.Left, t.Right, t.Top, t.Bottom }.Max() > g)
                throw new ApiError(400, $"extend: at most {g * p.Tokenizer.DownsamplingFactor} pixels ({g} tokens) per side, got {extension.Left},{extension.Right},{extension.Top},{extension.Bottom}");
            return token =>
            {
                using var scope = NewDisposeScope();
                using var result = p.Outpaint(p.ReadImages([image]), extension, label, options, seed, Sampling.Checked<GenerationProgress>(state, token));
                return Png(result.Images[0]);
            };
        });

        MapEdit(app, state, "/api/bitflip", u =>
        {
            var image = u.Image("image", required: true)!;
            var region = Region.Read(u);
            var bits = u.Fields.List("bits", 64)?.Select(b => int.TryParse(b, out int v) ? v
                : throw new ApiError(400, $"bits: expected bit indices 0..{p.TokenBits - 1} separated by commas, got '{b}'")).ToList();
            u.CheckAllRead();
            return token =>
            {
                token.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var x = p.ReadImages([image]);
                var mask = region.Resolve(p, image);
                if (bits is { Count: > 0 })
                {
                    using var flipped = p.FlipBits(x, bits, mask);
                    return Png(flipped.Images[0]);
                }
                using var sweep = p.BitSweep(x, mask);
                return Images.EncodePng(Images.Grid(sweep.Images.unbind(0).Chunk(SweepColumns).Select(r => (IReadOnlyList<Tensor>)r).ToList()));
            };
        });

        MapEdit(app, state, "/api/interpolate", u =>
        {
            var from = u.Image("from", required: true)!;
            var to = u.Image("to", required: true)!;
            int points = u.Fields.Int("steps", 2, state.Options.MaxInterpolationPoints) ?? 8;
            ulong seed = u.Fields.Seed("seed") ?? 42;
            u.CheckAllRead();
            return token =>
            {
                token.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var result = p.Interpolate(p.ReadImages([from]), p.ReadImages([to]), points, seed);
                return Images.EncodePng(Images.Grid([result.Images.unbind(0)]));
            };
        });

        // No model work: the resize and crop run on the request's thread.
        app.MapPost("/api/view", async (HttpContext context) =>
        {
            var upload = await Upload.Read(context, state.Options);
            var image = upload.Image("image", required: true)!;
            upload.CheckAllRead();
            return Results.File(Images.EncodePng(p.ModelView(image)), "image/png");
        });
    }

    // An endpoint that reads its upload on the request's thread (every check that needs no model) and runs the work it
    // returns on the model's thread.
    static void MapEdit(WebApplication app, ServerState state, string path, Func<Upload, Func<CancellationToken, byte[]>> parse) =>
        app.MapPost(path, async (HttpContext context) =>
        {
            var work = parse(await Upload.Read(context, state.Options));
            return Results.File(await state.Queue.Run(work, context.RequestAborted), "image/png");
        });

    static int Class(RequestFields f, ServerState state)
    {
        var name = f.Text("class") ?? throw new ApiError(400, $"class: missing (a class by index 0..{state.Classes.Count - 1} or name)");
        try { return state.Classes.Resolve(name); }
        catch (ArgumentException e) { throw new ApiError(400, $"class: {e.Message}"); }
    }

    static byte[] Png(Tensor image) => Images.EncodePng(RgbImage.FromTensor(image));

    /// <summary>The region fields of the CLI: a <c>mask</c> picture of the image's size or a <c>box</c>, grown by <c>dilate</c> tokens.</summary>
    sealed record Region(RgbImage? Mask, PixelBox? Box, int Dilate)
    {
        public bool IsNone => Mask is null && Box is null;

        public static Region Read(Upload u)
        {
            var mask = u.Image("mask", required: false);
            var box = u.Fields.Text("box") is { } text ? PixelBox.Parse(text) : (PixelBox?)null;
            int dilate = u.Fields.Int("dilate", 0, 64) ?? 0;
            if (mask is not null && box is not null) throw new ApiError(400, "give a mask or a box, not both");
            return new Region(mask, box, dilate);
        }

        /// <summary>On the model's thread: the token region over <paramref name="image"/>; null when none was given.</summary>
        public TokenMask? Resolve(MaskBitPipeline p, RgbImage image)
        {
            var region = Mask is not null ? p.MaskFromImage(Mask, image.Width, image.Height, "mask")
                : Box is { } b ? p.MaskFromBox(b, image.Width, image.Height)
                : null;
            return region?.Dilate(Dilate);
        }
    }
}
