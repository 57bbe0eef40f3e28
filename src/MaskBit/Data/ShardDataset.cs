using System.Formats.Tar;
using System.Globalization;
using MaskBit.Generation;
using MaskBit.Imaging;

namespace MaskBit.Data;

/// <summary>
/// The original's webdataset tar shards (fidelity 8.1): members grouped into samples by key (the member path up to the
/// first dot of its file name), the image under <c>.jpg</c>, <c>.jpeg</c>, <c>.png</c> or <c>.webp</c>, the class id
/// as decimal text under <c>.cls</c>; other members are ignored. Opening scans the tar headers of every shard once
/// and remembers where each image lies, so examples can then be read in any order (see <see cref="DataLoader"/>).
/// Class names come from a <c>classes.txt</c> next to the first shard (written by <c>maskbit make-shards</c>);
/// without one the shards are taken for the original's ImageNet shards (1000 classes).
/// </summary>
public sealed class ShardDataset : IImageDataset
{
    /// <summary>Member extensions read as the image, as the original's <c>rename(image="jpg;png;jpeg;webp")</c>.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions = new HashSet<string> { "jpg", "jpeg", "png", "webp" };

    /// <summary>The class-name file written next to the shards.</summary>
    public const string ClassesFile = "classes.txt";

    readonly record struct Entry(int Shard, long Offset, int Length, int Label, string Key);

    readonly string[] _shards;
    readonly List<Entry> _entries = [];
    readonly int[] _shardStarts;

    /// <summary>Opens the shards a brace pattern names (<c>train-{0000..0252}.tar</c>, see <see cref="ExpandBraces"/>).</summary>
    public ShardDataset(string pattern) : this(ExpandBraces(pattern), pattern) { }

    /// <summary>Opens the given shard files; a missing file, a sample without image or label, or a label that is
    /// not a class id is an error naming the shard.</summary>
    public ShardDataset(IReadOnlyList<string> shardPaths, string? source = null)
    {
        if (shardPaths.Count == 0) throw new ArgumentException("no shard files given");
        Source = source ?? string.Join(", ", shardPaths);
        _shards = [.. shardPaths];
        _shardStarts = new int[_shards.Length];
        for (int s = 0; s < _shards.Length; s++)
        {
            if (!File.Exists(_shards[s])) throw new FileNotFoundException($"shard {_shards[s]} not found");
            _shardStarts[s] = _entries.Count;
            Scan(s);
        }
        if (_entries.Count == 0) throw new InvalidDataException($"shards {Source} hold no samples");
        var classes = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(_shards[0]))!, ClassesFile);
        ClassNames = File.Exists(classes) ? ClassNames.Read(classes) : ClassNames.ImageNet;
        var bad = _entries.FirstOrDefault(e => e.Label >= ClassNames.Count);
        if (bad.Key is not null)
            throw new InvalidDataException($"shard {_shards[bad.Shard]}: sample {bad.Key} has class {bad.Label}, expected below the {ClassNames.Count} classes of " +
                                           (File.Exists(classes) ? classes : $"ImageNet (no {ClassesFile} next to the shards)"));
    }

    public string Source { get; }
    public int Count => _entries.Count;
    public ClassNames ClassNames { get; }

    /// <summary>The shard files, in pattern order.</summary>
    public IReadOnlyList<string> Shards => _shards;

    /// <summary>Index of the first example of each shard (examples are numbered shard after shard, in tar order).</summary>
    public IReadOnlyList<int> ShardStarts => _shardStarts;

    public Example Get(int index)
    {
        var e = _entries[index];
        var bytes = new byte[e.Length];
        using (var handle = File.OpenHandle(_shards[e.Shard]))
        {
            for (int done = 0; done < bytes.Length;)
            {
                int n = RandomAccess.Read(handle, bytes.AsSpan(done), e.Offset + done);
                if (n == 0) throw new EndOfStreamException($"shard {_shards[e.Shard]}: sample {e.Key} is cut short");
                done += n;
            }
        }
        return new Example(Images.Decode(bytes, $"{_shards[e.Shard]}:{e.Key}"), e.Label, e.Key);
    }

    // Records every sample of shard s: consecutive members with the same key form one sample (webdataset's rule).
    void Scan(int s)
    {
        var path = _shards[s];
        using var stream = File.OpenRead(path);
        using var reader = new TarReader(stream);
        string? key = null;
        (long Offset, int Length)? image = null;
        int? label = null;
        void Flush()
        {
            if (key is null) return;
            if (image is null) throw new InvalidDataException($"shard {path}: sample {key} has no image (.{string.Join(", .", ImageExtensions)})");
            if (label is null) throw new InvalidDataException($"shard {path}: sample {key} has no .cls class id");
            _entries.Add(new Entry(s, image.Value.Offset, image.Value.Length, label.Value, key));
        }
        while (NextMember(reader, path) is { } member)
        {
            if (member.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            var (k, ext) = SplitName(member.Name);
            if (k is null) continue;
            if (k != key)
            {
                Flush();
                (key, image, label) = (k, null, null);
            }
            if (ImageExtensions.Contains(ext) && image is null)
                image = (member.DataOffset, checked((int)member.Length));
            else if (ext == "cls")
            {
                using var text = new StreamReader(member.DataStream!);
                var value = text.ReadToEnd().Trim();
                label = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l
                    : throw new InvalidDataException($"shard {path}: sample {key}: expected a decimal class id in .cls, got '{value}'");
            }
        }
        Flush();
    }

    static TarEntry? NextMember(TarReader reader, string path)
    {
        try { return reader.GetNextEntry(); }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"shard {path}: not a readable tar file: {e.Message}", e);
        }
    }

    // webdataset's base_plus_ext: "dir/0000123.jpg" -> ("dir/0000123", "jpg"); the extension is lower-cased and is
    // everything after the first dot of the file name. A name without a dot is not part of a sample.
    static (string? Key, string Ext) SplitName(string name)
    {
        int slash = name.LastIndexOf('/');
        int dot = name.IndexOf('.', slash + 1);
        return dot <= slash + 1 ? (null, "") : (name[..dot], name[(dot + 1)..].ToLowerInvariant());
    }

    /// <summary>
    /// Brace expansion as webdataset's shard lists (the <c>braceexpand</c> package): <c>{0000..0252}</c> is a numeric
    /// range (zero-padded to the longer bound when a bound has a leading zero; descending ranges count down),
    /// <c>{a,b}</c> a list; several and nested groups multiply out left to right.
    /// </summary>
    public static IReadOnlyList<string> ExpandBraces(string pattern)
    {
        int open = pattern.IndexOf('{');
        if (open < 0) return [pattern];
        int depth = 0, close = -1;
        for (int i = open; i < pattern.Length && close < 0; i++)
        {
            if (pattern[i] == '{') depth++;
            else if (pattern[i] == '}' && --depth == 0) close = i;
        }
        if (close < 0) throw new ArgumentException($"shard pattern {pattern}: '{{' at {open} is never closed");
        var body = pattern[(open + 1)..close];
        var head = pattern[..open];
        var tail = pattern[(close + 1)..];
        var range = Range(body, pattern);
        var alternatives = range ?? TopLevelParts(body);
        if (range is null && alternatives.Count == 1) // "{x}" is no group and stays as written
            return ExpandBraces(tail).Select(rest => head + "{" + body + "}" + rest).ToList();
        return alternatives.SelectMany(a => ExpandBraces(a + tail).Select(rest => head + rest)).ToList();
    }

    // "0000..0252" -> the numbers; null when the body is not a numeric range.
    static List<string>? Range(string body, string pattern)
    {
        var bounds = body.Split("..");
        if (bounds.Length != 2 || !bounds.All(b => b.Length > 0 && b.All(char.IsAsciiDigit))) return null;
        if (!long.TryParse(bounds[0], out var from) || !long.TryParse(bounds[1], out var to))
            throw new ArgumentException($"shard pattern {pattern}: range {{{body}}} is too large");
        if (Math.Abs(to - from) >= 10_000_000) throw new ArgumentException($"shard pattern {pattern}: range {{{body}}} names more than 10 million shards");
        int width = bounds.Any(b => b.Length > 1 && b[0] == '0') ? Math.Max(bounds[0].Length, bounds[1].Length) : 0;
        long step = to >= from ? 1 : -1;
        var result = new List<string>();
        for (long v = from; ; v += step)
        {
            result.Add(v.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0'));
            if (v == to) break;
        }
        return result;
    }

    // "a,{b,c},d" -> ["a", "{b,c}", "d"] (commas inside nested braces do not split).
    static List<string> TopLevelParts(string body)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] == '{') depth++;
            else if (body[i] == '}') depth--;
            else if (body[i] == ',' && depth == 0)
            {
                parts.Add(body[start..i]);
                start = i + 1;
            }
        }
        parts.Add(body[start..]);
        return parts;
    }
}
