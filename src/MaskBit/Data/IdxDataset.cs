using System.Buffers.Binary;
using System.IO.Compression;
using MaskBit.Generation;
using MaskBit.Imaging;

namespace MaskBit.Data;

/// <summary>
/// A data set in the IDX format of MNIST and Fashion-MNIST, gzipped or not: an images file (magic 2051, big-endian
/// int32 N, rows, columns, then N*rows*columns bytes, grayscale) and a labels file (magic 2049, N, then N bytes).
/// Both files are read into memory; images come out as RGB with the gray value replicated.
/// </summary>
public sealed class IdxDataset : IImageDataset
{
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string FashionMnistFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Fashion-MNIST's ten classes in label order.</summary>
    public static readonly IReadOnlyList<string> FashionMnistClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    const int ImagesMagic = 2051, LabelsMagic = 2049;
    readonly byte[] _pixels; // the images file: 16-byte header, then [N, rows, columns]
    readonly byte[] _labels; // the labels file: 8-byte header, then [N]

    /// <summary>Reads and checks both files; errors name the file and say what was expected.</summary>
    public IdxDataset(string imagesPath, string labelsPath, ClassNames classNames)
    {
        Source = imagesPath;
        ClassNames = classNames;
        _pixels = ReadMaybeGzip(imagesPath);
        _labels = ReadMaybeGzip(labelsPath);
        int n = Header(_pixels, imagesPath, ImagesMagic, 16, 0);
        Height = Header(_pixels, imagesPath, ImagesMagic, 16, 1);
        Width = Header(_pixels, imagesPath, ImagesMagic, 16, 2);
        if (Height <= 0 || Width <= 0) throw new InvalidDataException($"{imagesPath}: image size must be positive, got {Height}x{Width}");
        long expected = 16 + (long)n * Height * Width;
        if (_pixels.Length != expected)
            throw new InvalidDataException($"{imagesPath}: {n} images of {Height}x{Width} need {expected} bytes, got {_pixels.Length}");
        int labelCount = Header(_labels, labelsPath, LabelsMagic, 8, 0);
        if (_labels.Length != 8L + labelCount)
            throw new InvalidDataException($"{labelsPath}: {labelCount} labels need {8L + labelCount} bytes, got {_labels.Length}");
        if (labelCount != n) throw new InvalidDataException($"{labelsPath}: {labelCount} labels for the {n} images of {imagesPath}");
        for (int i = 0; i < n; i++)
            if (_labels[8 + i] >= classNames.Count)
                throw new InvalidDataException($"{labelsPath}: label {_labels[8 + i]} of record {i} is not below the {classNames.Count} classes");
        Count = n;
    }

    /// <summary>Fashion-MNIST from its four files in <paramref name="folder"/>: <c>train-*</c> for training,
    /// <c>t10k-*</c> (the test set) for evaluation.</summary>
    public static IdxDataset FashionMnist(string folder, DataSplit split)
    {
        var prefix = split == DataSplit.Train ? "train" : "t10k";
        return new IdxDataset(Find(folder, $"{prefix}-images-idx3-ubyte"), Find(folder, $"{prefix}-labels-idx1-ubyte"),
            new ClassNames(FashionMnistClasses, "Fashion-MNIST"));
    }

    // name.gz or name in folder.
    static string Find(string folder, string name)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Fashion-MNIST folder {folder} not found (Debian: apt-get install dataset-fashion-mnist)");
        return new[] { name + ".gz", name }.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"{Path.Combine(folder, name)}.gz not found (nor {name})");
    }

    public string Source { get; }
    public int Count { get; }
    public ClassNames ClassNames { get; }
    public int Height { get; }
    public int Width { get; }

    public int LabelOf(int index) => (uint)index < (uint)Count ? _labels[8 + index]
        : throw new ArgumentOutOfRangeException(nameof(index), $"{Source}: record {index} is not in 0..{Count - 1}");

    public Example Get(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), $"{Source}: record {index} is not in 0..{Count - 1}");
        int size = Height * Width;
        var rgb = new byte[size * 3];
        for (int p = 0, src = 16 + index * size; p < size; p++)
            rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = _pixels[src + p];
        return new Example(new RgbImage(Width, Height, rgb), _labels[8 + index], $"{index:D7}");
    }

    // Big-endian int32 number `field` after the magic; the magic itself is checked.
    static int Header(byte[] data, string path, int magic, int headerBytes, int field)
    {
        if (data.Length < 4) throw new InvalidDataException($"{path}: expected an IDX file (magic {magic}), got {data.Length} bytes");
        int got = BinaryPrimitives.ReadInt32BigEndian(data);
        if (got != magic) throw new InvalidDataException($"{path}: expected IDX magic {magic}, got {got}");
        if (data.Length < headerBytes)
            throw new InvalidDataException($"{path}: expected an IDX header of {headerBytes} bytes, got a file of {data.Length}");
        return BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4 + 4 * field));
    }

    static byte[] ReadMaybeGzip(string path)
    {
        try
        {
            var raw = File.ReadAllBytes(path);
            if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gz.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a valid gzip file: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not FileNotFoundException)
        {
            throw new IOException($"cannot read {path}: {e.Message}", e);
        }
    }
}
