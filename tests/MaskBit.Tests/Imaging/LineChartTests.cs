using MaskBit.Imaging;

namespace MaskBit.Tests.Imaging;

public class LineChartTests
{
    [Fact]
    public void TheSeriesIsDrawnInsideThePlotAndAFlatSeriesIsAFlatLine()
    {
        var xs = Enumerable.Range(0, 50).Select(i => (double)i).ToList();
        var chart = LineChart.Draw(xs, xs.Select(_ => 1500.0).ToList(), "resident memory", "step", "MIB", 400, 240);
        Assert.Equal((400, 240), (chart.Width, chart.Height));
        // The line colour appears on exactly one pair of rows (a flat series), and nowhere outside the plot area.
        var rows = new HashSet<int>();
        for (int y = 0; y < chart.Height; y++)
        for (int x = 0; x < chart.Width; x++)
        {
            int o = (y * chart.Width + x) * 3;
            if ((chart.Pixels[o], chart.Pixels[o + 1], chart.Pixels[o + 2]) != (31, 119, 180)) continue;
            rows.Add(y);
            Assert.InRange(x, 84, 400 - 24);
        }
        Assert.Equal(2, rows.Count);
        Assert.Equal(1, rows.Max() - rows.Min());
        // y axis from 0 to 2,000 (the next round value above 1,500): the line sits at 3/4 of the plot's height.
        int plotBottom = 240 - 48, plotHeight = 240 - 48 - 36;
        Assert.Equal(plotBottom - (int)Math.Round(0.75 * plotHeight), rows.Min());
    }

    [Fact]
    public void MismatchedSeriesAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => LineChart.Draw([1, 2], [1], "t", "x", "y"));
        Assert.Contains("as many x as y", e.Message);
        Assert.Throws<ArgumentException>(() => LineChart.Draw([], [], "t", "x", "y"));
    }
}
