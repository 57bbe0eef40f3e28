namespace MaskBit.Imaging;

/// <summary>
/// A small line chart drawn into an <see cref="RgbImage"/> (save it with <see cref="Images.Save(string, RgbImage)"/>):
/// one series, the y axis from 0 (so that "flat" looks flat), five labelled ticks per axis, the built-in
/// <see cref="BitmapFont"/> for text. For the curves a benchmark or a training run shows, with no plotting library.
/// </summary>
public static class LineChart
{
    const int Left = 84, Right = 24, Top = 36, Bottom = 48, Ticks = 5;
    static readonly (byte, byte, byte) Ink = (40, 40, 40), Grid = (225, 225, 225), Line = (31, 119, 180);

    /// <summary>The series (x ascending) as a chart of <paramref name="width"/> x <paramref name="height"/> pixels.</summary>
    public static RgbImage Draw(IReadOnlyList<double> xs, IReadOnlyList<double> ys, string title, string xLabel, string yLabel,
        int width = 720, int height = 400)
    {
        if (xs.Count != ys.Count || xs.Count == 0) throw new ArgumentException($"a chart needs as many x as y values, at least one (got {xs.Count} and {ys.Count})");
        var rgb = new byte[width * height * 3];
        Array.Fill(rgb, (byte)255);
        double x0 = xs.Min(), x1 = Math.Max(xs.Max(), x0 + 1), y1 = NiceCeiling(Math.Max(ys.Max(), 1e-9));
        int plotW = width - Left - Right, plotH = height - Top - Bottom;
        int Px(double x) => Left + (int)Math.Round((x - x0) / (x1 - x0) * plotW);
        int Py(double y) => Top + plotH - (int)Math.Round(y / y1 * plotH);

        for (int i = 0; i <= Ticks; i++)
        {
            double y = y1 * i / Ticks, x = x0 + (x1 - x0) * i / Ticks;
            Segment(rgb, width, Left, Py(y), Left + plotW, Py(y), Grid);
            var yText = Format(y);
            BitmapFont.Draw(rgb, width, Left - 6 - BitmapFont.Measure(yText, 1), Py(y) - 3, yText, 1, Ink);
            var xText = Format(x);
            BitmapFont.Draw(rgb, width, Px(x) - BitmapFont.Measure(xText, 1) / 2, Top + plotH + 8, xText, 1, Ink);
        }
        Segment(rgb, width, Left, Top, Left, Top + plotH, Ink);
        Segment(rgb, width, Left, Top + plotH, Left + plotW, Top + plotH, Ink);
        for (int i = 1; i < xs.Count; i++)
            Segment(rgb, width, Px(xs[i - 1]), Py(ys[i - 1]), Px(xs[i]), Py(ys[i]), Line);
        if (xs.Count == 1) Segment(rgb, width, Px(xs[0]), Py(ys[0]), Px(xs[0]), Py(ys[0]), Line);

        BitmapFont.Draw(rgb, width, Left, 10, title, BitmapFont.Measure(title, 2) <= plotW ? 2 : 1, Ink);
        BitmapFont.Draw(rgb, width, Left + (plotW - BitmapFont.Measure(xLabel, 1)) / 2, height - 18, xLabel, 1, Ink);
        BitmapFont.Draw(rgb, width, 4, Top - 14, yLabel, 1, Ink);
        return new RgbImage(width, height, rgb);
    }

    /// <summary>The smallest of 1, 2, 2.5, 5 times a power of ten that is at least <paramref name="v"/>.</summary>
    static double NiceCeiling(double v)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in new[] { 1, 2, 2.5, 5, 10 })
            if (m * p >= v) return m * p;
        return 10 * p;
    }

    static string Format(double v) => v.ToString(Math.Abs(v) >= 100 || v == Math.Round(v) ? "N0" : "0.##", System.Globalization.CultureInfo.InvariantCulture);

    // Bresenham, two pixels thick vertically so a flat line stays visible.
    static void Segment(byte[] rgb, int width, int xa, int ya, int xb, int yb, (byte R, byte G, byte B) c)
    {
        int height = rgb.Length / 3 / width;
        int dx = Math.Abs(xb - xa), dy = -Math.Abs(yb - ya), sx = xa < xb ? 1 : -1, sy = ya < yb ? 1 : -1, err = dx + dy;
        while (true)
        {
            for (int t = 0; t < 2; t++)
            {
                int py = ya + t;
                if (xa >= 0 && xa < width && py >= 0 && py < height)
                    (rgb[(py * width + xa) * 3], rgb[(py * width + xa) * 3 + 1], rgb[(py * width + xa) * 3 + 2]) = c;
            }
            if (xa == xb && ya == yb) return;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; xa += sx; }
            if (e2 <= dx) { err += dx; ya += sy; }
        }
    }
}
