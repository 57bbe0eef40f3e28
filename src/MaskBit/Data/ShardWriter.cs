using System.Formats.Tar;
using MaskBit.Imaging;
using MaskBit.Interop;

namespace MaskBit.Data;

/// <summary>One sample of a shard: members <c>KEY.EXT</c> (the image file's bytes) and <c>KEY.cls</c> (the label as
/// decimal text), as the original's <c>create_sharded_dataset.py</c> writes them.</summary>
public sealed record ShardSample(string Key, string ImageExtension, byte[] Image, int Label);

/// <summary>
/// Writes webdataset tar shards (POSIX ustar) the way the original's <c>scripts/create_sharded_dataset.py</c> does
/// (fidelity 8.1): <c>PREFIX-0000.tar</c>, <c>PREFIX-0001.tar</c>, ...; a new shard starts once the current one holds
/// <c>maxCount</c> samples (default 5079) or <c>maxSize</c> bytes (default 1e9). Every shard is written atomically.
/// </summary>
public static class ShardWriter
{
    public const int DefaultMaxCount = 5079;
    public const long DefaultMaxSize = 1_000_000_000;

    /// <summary>
    /// <c>maskbit make-shards</c>: the images of <paramref name="images"/> in an order shuffled with
    /// <paramref name="seed"/> (the original shuffles unseeded), each under the key <c>"%07d"</c> of its index in the
    /// folder, its bytes unchanged for JPEG/PNG/WebP files (stored as <c>.jpg</c>, <c>.png</c>, <c>.webp</c>) and
    /// re-encoded as PNG for other formats; the class names go to <c>classes.txt</c>. Returns the brace pattern that
    /// names the shards written (for <c>dataset.params.*_shards_path_or_url</c>).
    /// </summary>
    public static string FromImageFolder(ImageFolderDataset images, string folder, string prefix, ulong seed = 0,
        int maxCount = DefaultMaxCount, long maxSize = DefaultMaxSize, Action<int>? progress = null)
    {
        var order = Enumerable.Range(0, images.Count).ToArray();
        new Random(Seeds.ForRandom(seed)).Shuffle(order);
        var samples = order.Select(i =>
        {
            var (path, label) = images.Files[i];
            var ext = Path.GetExtension(path).ToLowerInvariant() switch { ".jpg" or ".jpeg" => "jpg", ".png" => "png", ".webp" => "webp", _ => null };
            var bytes = ext is null ? Images.EncodePng(Images.Read(path)) : ReadFile(path);
            progress?.Invoke(1);
            return new ShardSample($"{i:D7}", ext ?? "png", bytes, label);
        });
        var shards = Write(samples, folder, prefix, maxCount, maxSize);
        images.ClassNames.Save(Path.Combine(folder, ShardDataset.ClassesFile));
        return shards.Count == 1 ? shards[0] : Path.Combine(folder, $"{prefix}-{{0000..{shards.Count - 1:D4}}}.tar");
    }

    /// <summary>Writes the samples in order into <c>FOLDER/PREFIX-%04d.tar</c> and returns the shard paths. The folder
    /// must not hold shards of that prefix yet.</summary>
    public static IReadOnlyList<string> Write(IEnumerable<ShardSample> samples, string folder, string prefix,
        int maxCount = DefaultMaxCount, long maxSize = DefaultMaxSize)
    {
        if (maxCount < 1) throw new ArgumentException($"samples per shard must be >= 1, got {maxCount}");
        if (maxSize < 1) throw new ArgumentException($"bytes per shard must be >= 1, got {maxSize}");
        if (Directory.Exists(folder) && Directory.EnumerateFiles(folder, $"{prefix}-*.tar").Order(StringComparer.Ordinal).FirstOrDefault() is { } old)
            throw new IOException($"{folder} already holds shards ({old}); remove them or choose another folder or prefix");
        var written = new List<string>();
        var keys = new HashSet<string>();
        using var next = samples.GetEnumerator();
        bool more = next.MoveNext();
        if (!more) throw new ArgumentException($"no samples to write to {folder}");
        while (more)
        {
            var path = Path.Combine(folder, $"{prefix}-{written.Count:D4}.tar");
            AtomicFile.Write(path, stream =>
            {
                using var tar = new TarWriter(stream, TarEntryFormat.Ustar, leaveOpen: true);
                for (long count = 0, size = 0; more && count < maxCount && size < maxSize; count++, more = next.MoveNext())
                {
                    var sample = next.Current;
                    if (!keys.Add(sample.Key)) throw new ArgumentException($"duplicate sample key {sample.Key} writing {path}");
                    size += Member(tar, $"{sample.Key}.cls", System.Text.Encoding.ASCII.GetBytes(sample.Label.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    size += Member(tar, $"{sample.Key}.{sample.ImageExtension}", sample.Image);
                }
            });
            written.Add(path);
        }
        return written;
    }

    // One read-only regular file with a fixed time stamp (shards of the same input are byte-identical); returns its
    // size in the archive (header + data padded to 512-byte blocks), the measure webdataset's maxsize limits.
    static long Member(TarWriter tar, string name, byte[] data)
    {
        tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(data),
            ModificationTime = DateTimeOffset.UnixEpoch,
            Mode = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        });
        return 512 + (data.Length + 511L) / 512 * 512;
    }

    static byte[] ReadFile(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot read image {path}: {e.Message}", e);
        }
    }
}
