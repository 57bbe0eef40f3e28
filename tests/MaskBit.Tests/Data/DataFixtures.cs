using System.Buffers.Binary;
using System.IO.Compression;
using MaskBit.Data;
using MaskBit.Generation;
using MaskBit.Imaging;

namespace MaskBit.Tests.Data;

/// <summary>Tiny data sets made in the test: random images, image folders, IDX files.</summary>
static class DataFixtures
{
    public static RgbImage RandomImage(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    /// <summary>Writes ROOT/CLASS/NAME.png for each (class, name); image i is <c>RandomImage(7 + i, 5 + i % 3, i)</c>.
    /// Returns the images by relative path without extension.</summary>
    public static Dictionary<string, RgbImage> ImageFolder(string root, params (string Class, string Name)[] files)
    {
        var images = new Dictionary<string, RgbImage>();
        for (int i = 0; i < files.Length; i++)
        {
            var image = RandomImage(7 + i, 5 + i % 3, i);
            Images.Save(Path.Combine(root, files[i].Class, files[i].Name + ".png"), image);
            images[Path.Combine(files[i].Class, files[i].Name)] = image;
        }
        return images;
    }

    /// <summary>An IDX images file: magic 2051, N, rows, columns (big-endian int32), then [N, rows, columns] bytes.</summary>
    public static byte[] IdxImages(byte[] pixels, int n, int rows, int columns) =>
        [.. BigEndian(2051, n, rows, columns), .. pixels];

    /// <summary>An IDX labels file: magic 2049, N, then N bytes.</summary>
    public static byte[] IdxLabels(byte[] labels) => [.. BigEndian(2049, labels.Length), .. labels];

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest)) gz.Write(data);
        return output.ToArray();
    }

    /// <summary>Fashion-MNIST's four files in a folder: <paramref name="n"/> random 4x5 records per split, labels i % 10.</summary>
    public static void FashionMnistFolder(string folder, int trainCount, int testCount)
    {
        Directory.CreateDirectory(folder);
        foreach (var (prefix, n) in new[] { ("train", trainCount), ("t10k", testCount) })
        {
            var pixels = new byte[n * 20];
            new Random(n).NextBytes(pixels);
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz"), Gzip(IdxImages(pixels, n, 4, 5)));
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz"), Gzip(IdxLabels(Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray())));
        }
    }

    static byte[] BigEndian(params int[] values)
    {
        var bytes = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    /// <summary>An error message is one line.</summary>
    public static void OneLine(Exception e) => Assert.DoesNotContain('\n', e.Message);
}

/// <summary>Example i: a random <c>width x height</c> image seeded with i, label i % classes; <see cref="FailAt"/> makes
/// one index unreadable.</summary>
sealed class SyntheticDataset(int count, int classes = 3, int width = 12, int height = 10) : IImageDataset
{
    public int? FailAt { get; init; }
    public string Source => "synthetic";
    public int Count => count;
    public ClassNames ClassNames { get; } = new(Enumerable.Range(0, classes).Select(i => $"class{i}"), "synthetic");

    public Example Get(int index)
    {
        if (index == FailAt) throw new InvalidDataException($"cannot decode image synthetic/{index}");
        return new Example(DataFixtures.RandomImage(width, height, index), index % classes, $"{index:D3}");
    }
}

/// <summary>A fact that runs only when a folder exists (data installed on the machine), else is skipped saying so.</summary>
public sealed class FactWhenFolderAttribute : FactAttribute
{
    public FactWhenFolderAttribute(string folder, string hint)
    {
        if (!Directory.Exists(folder)) Skip = $"{folder} not found ({hint})";
    }
}
