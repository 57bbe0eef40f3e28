using MaskBit.Generation;
using MaskBit.Pipeline;

namespace MaskBit.Editing;

/// <summary>How far to grow an image on each side, in pixels (rounded to whole tokens by <see cref="Outpainting"/>).</summary>
public readonly record struct Extension(int Left, int Right, int Top, int Bottom)
{
    /// <summary>Parses <c>left=8,right=8,top=0,bottom=0</c> (any subset, any order; missing sides are 0).</summary>
    public static Extension Parse(string text)
    {
        var sides = new Dictionary<string, int> { ["left"] = 0, ["right"] = 0, ["top"] = 0, ["bottom"] = 0 };
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=');
            if (kv.Length != 2 || !sides.ContainsKey(kv[0]) || !int.TryParse(kv[1], out int px) || px < 0)
                throw new ArgumentException($"extension '{text}': expected side=pixels with sides left, right, top, bottom and pixels >= 0, got '{part}'");
            sides[kv[0]] = px;
        }
        return new Extension(sides["left"], sides["right"], sides["top"], sides["bottom"]);
    }

    /// <summary>Each side rounded to the nearest whole number of <paramref name="patch"/>-pixel tokens (halves up).</summary>
    public Extension ToTokens(int patch)
    {
        if (Left < 0 || Right < 0 || Top < 0 || Bottom < 0) throw new ArgumentException($"an extension cannot be negative, got {this}");
        int T(int px) => (int)Math.Round((double)px / patch, MidpointRounding.AwayFromZero);
        return new Extension(T(Left), T(Right), T(Top), T(Bottom));
    }
}

/// <summary>
/// Outpainting: the token grid grows by whole tokens on each side and the generator fills the new tokens, a window of
/// its own g x g grid at a time (windows every g/2 tokens, nearest the original first, each conditioned on every token
/// already known inside it). The original tokens never change; the canvas is decoded in one pass.
/// </summary>
public static class Outpainting
{
    /// <summary>
    /// image [1, 3, S, S] -> [1, 3, S + f*(top+bottom), S + f*(left+right)] with the extension in pixels rounded to
    /// tokens (<see cref="Extension.ToTokens"/>). The result's mask marks the new tokens. <paramref name="onProgress"/>
    /// sees every decoding step; Batch counts the windows.
    /// </summary>
    public static EditResult Outpaint(this MaskBitPipeline pipeline, Tensor image, Extension extension, int classLabel,
        SamplingOptions? options = null, ulong seed = 42, Action<GenerationProgress>? onProgress = null)
    {
        EditCore.CheckImages(pipeline, image, "image", single: true);
        EditCore.CheckGenerator(pipeline, classLabel);
        options = (options ?? pipeline.Sampling).Validate();
        int f = pipeline.Tokenizer.DownsamplingFactor, g = pipeline.TokenGridSize;
        var e = extension.ToTokens(f);
        if (e == default)
            throw new ArgumentException($"the extension {extension.Left},{extension.Right},{extension.Top},{extension.Bottom} (left, right, top, bottom pixels) adds no whole {f}-pixel token");
        int h = g + e.Top + e.Bottom, w = g + e.Left + e.Right;
        var known = new bool[h, w];
        for (int y = 0; y < g; y++)
        for (int x = 0; x < g; x++)
            known[e.Top + y, e.Left + x] = true;
        var newTokens = new TokenMask(h, w, Cells(h, w).Select(c => !known[c.y, c.x]));
        var windows = Plan(known, g, e);

        using var scope = NewDisposeScope();
        var canvas = torch.zeros([1, h, w], ScalarType.Int64);                             // [1, h, w]
        canvas[.., TensorIndex.Slice(e.Top, e.Top + g), TensorIndex.Slice(e.Left, e.Left + g)] = pipeline.Tokenize(image).view(1, g, g);
        using var noise = new SeededSamplerNoise(seed, pipeline.Device);
        for (int i = 0; i < windows.Count; i++)
        {
            var (wy, wx) = windows[i];
            var mask = new TokenMask(g, g, Cells(g, g).Select(c => !known[wy + c.y, wx + c.x]));
            var rows = TensorIndex.Slice(wy, wy + g);
            var cols = TensorIndex.Slice(wx, wx + g);
            var window = canvas[.., rows, cols].reshape(1, g * g);                         // [1, g*g]
            var filled = EditCore.Resample(pipeline, window, mask, classLabel, options, noise,
                (step, steps) => onProgress?.Invoke(new GenerationProgress(step, steps, i + 1, windows.Count)));
            canvas[.., rows, cols] = filled.view(1, g, g);
            foreach (var (y, x) in Cells(g, g)) known[wy + y, wx + x] = true;
        }
        var images = pipeline.Detokenize(canvas);                                         // [1, 3, h*f, w*f]
        return new EditResult(images.MoveToOuterDisposeScope(), canvas.MoveToOuterDisposeScope(), newTokens);
    }

    static IEnumerable<(int y, int x)> Cells(int h, int w) =>
        Enumerable.Range(0, h).SelectMany(y => Enumerable.Range(0, w).Select(x => (y, x)));

    // Window origins 0, g/2, g, ..., size - g along one axis.
    static IEnumerable<int> Offsets(int size, int g)
    {
        int stride = Math.Max(1, g / 2);
        for (int o = 0; o < size - g; o += stride) yield return o;
        yield return size - g;
    }

    // The windows that hold unknown tokens when their turn comes, in order: nearest the original image first (distance
    // between window origins), then row-major. Does not modify known.
    static List<(int y, int x)> Plan(bool[,] known, int g, Extension e)
    {
        var state = (bool[,])known.Clone();
        var order = Offsets(state.GetLength(0), g).SelectMany(y => Offsets(state.GetLength(1), g).Select(x => (y, x)))
            .OrderBy(o => Math.Abs(o.y - e.Top) + Math.Abs(o.x - e.Left)).ThenBy(o => o.y).ThenBy(o => o.x);
        var plan = new List<(int y, int x)>();
        foreach (var (wy, wx) in order)
        {
            if (Cells(g, g).All(c => state[wy + c.y, wx + c.x])) continue;
            plan.Add((wy, wx));
            foreach (var (y, x) in Cells(g, g)) state[wy + y, wx + x] = true;
        }
        return plan;
    }
}
