namespace MaskBit.Generation;

/// <summary>
/// The 1000 ImageNet-1k class names in class-index order (the original's <c>imagenet_idx2classname</c>), so that
/// generation can be asked for "goldfish" as well as 1. Each entry lists comma-separated synonyms.
/// </summary>
public static class ImageNetClasses
{
    static readonly Lazy<string[]> _names = new(() =>
    {
        using var stream = typeof(ImageNetClasses).Assembly.GetManifestResourceStream("MaskBit.imagenet_classes.txt")
            ?? throw new InvalidOperationException("embedded resource MaskBit.imagenet_classes.txt is missing");
        using var reader = new StreamReader(stream);
        var names = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return names.Length == 1000 ? names : throw new InvalidOperationException($"expected 1000 class names, found {names.Length}");
    });

    public const int Count = 1000;

    /// <summary>Full entry of class <paramref name="index"/>, e.g. "goldfish, Carassius auratus".</summary>
    public static string Name(int index) => index is >= 0 and < Count ? _names.Value[index]
        : throw new ArgumentOutOfRangeException(nameof(index), $"ImageNet class index must be 0..999, got {index}");

    /// <summary>The first synonym (a short display name).</summary>
    public static string ShortName(int index) => Name(index).Split(',')[0].Trim();

    /// <summary>
    /// A class given as an index ("207") or a name: any synonym, case-insensitive, '_' for ' ' ("golden retriever",
    /// "Golden_Retriever"). An unknown name is an error that suggests the closest synonym.
    /// </summary>
    public static int Resolve(string classOrIndex)
    {
        var s = classOrIndex.Trim();
        if (int.TryParse(s, out var idx))
            return idx is >= 0 and < Count ? idx : throw new ArgumentException($"class index {idx} is out of range (ImageNet classes are 0..999)");
        var key = Normalize(s);
        var hits = Synonyms.Where(p => p.name == key).Select(p => p.index).Distinct().ToList();
        if (hits.Count == 1) return hits[0];
        if (hits.Count > 1)
            throw new ArgumentException($"class name '{s}' is ambiguous: classes {string.Join(", ", hits.Select(h => $"{h} ({Name(h)})"))}; give the index");
        var best = Spelling.Closest(Synonyms.Select(p => p.name), key);
        var hint = best is null ? "" : $" (did you mean '{best}', class {Synonyms.First(p => p.name == best).index}?)";
        throw new ArgumentException($"unknown ImageNet class '{s}'{hint}");
    }

    static string Normalize(string name) => name.Replace('_', ' ').Trim().ToLowerInvariant();

    static readonly Lazy<List<(string name, int index)>> _synonyms = new(() =>
        Enumerable.Range(0, Count).SelectMany(i => Name(i).Split(',').Select(n => (Normalize(n), i))).ToList());

    static List<(string name, int index)> Synonyms => _synonyms.Value;
}
