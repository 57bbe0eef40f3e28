namespace MaskBit.Generation;

/// <summary>
/// The class names of a class-conditional generator, in class-index order, so that generation can be asked for
/// "goldfish" as well as 1. Each entry may list comma-separated synonyms ("goldfish, Carassius auratus"); the first is
/// the short display name. <see cref="ImageNet"/> holds the 1000 ImageNet-1k names (the original's
/// <c>imagenet_idx2classname</c>); a model folder's <c>classes.txt</c> holds its own, one entry per line.
/// </summary>
public sealed class ClassNames
{
    readonly string[] _entries;
    readonly string _what;
    readonly Lazy<List<(string name, int index)>> _synonyms;

    /// <param name="entries">One entry per class, in index order.</param>
    /// <param name="what">Names the set in messages ("ImageNet", a file path).</param>
    public ClassNames(IEnumerable<string> entries, string what)
    {
        _entries = entries.Select(e => e.Trim()).ToArray();
        _what = what;
        if (_entries.Length == 0) throw new ArgumentException($"{what}: no class names");
        int empty = Array.FindIndex(_entries, e => e.Length == 0);
        if (empty >= 0) throw new ArgumentException($"{what}: class {empty} has an empty name");
        _synonyms = new(() => Enumerable.Range(0, Count).SelectMany(i => Synonyms(i).Select(n => (Normalize(n), i))).ToList());
    }

    static readonly Lazy<ClassNames> _imageNet = new(() =>
    {
        using var stream = typeof(ClassNames).Assembly.GetManifestResourceStream("MaskBit.imagenet_classes.txt")
            ?? throw new InvalidOperationException("embedded resource MaskBit.imagenet_classes.txt is missing");
        using var reader = new StreamReader(stream);
        var names = new ClassNames(reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries), "ImageNet");
        return names.Count == 1000 ? names : throw new InvalidOperationException($"expected 1000 ImageNet class names, found {names.Count}");
    });

    /// <summary>The 1000 ImageNet-1k classes (embedded), the classes of every released generator.</summary>
    public static ClassNames ImageNet => _imageNet.Value;

    /// <summary>Reads one entry per line (blank lines at the end ignored); errors name the file.</summary>
    public static ClassNames Read(string path)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot read class names: {e.Message}", e);
        }
        int end = lines.Length;
        while (end > 0 && lines[end - 1].Trim().Length == 0) end--;
        return new ClassNames(lines[..end], path);
    }

    /// <summary>Writes one entry per line, atomically.</summary>
    public void Save(string path) => Interop.AtomicFile.WriteAllText(path, string.Join('\n', _entries) + "\n");

    public int Count => _entries.Length;
    public IReadOnlyList<string> Entries => _entries;

    /// <summary>Full entry of class <paramref name="index"/>, e.g. "goldfish, Carassius auratus".</summary>
    public string Name(int index) => index >= 0 && index < Count ? _entries[index]
        : throw new ArgumentOutOfRangeException(nameof(index), $"{_what} class index must be 0..{Count - 1}, got {index}");

    /// <summary>The first synonym (a short display name).</summary>
    public string ShortName(int index) => Synonyms(index)[0];

    IReadOnlyList<string> Synonyms(int index) => Name(index).Split(',').Select(n => n.Trim()).Where(n => n.Length > 0).DefaultIfEmpty(Name(index)).ToList();

    /// <summary>
    /// A class given as an index ("207") or a name: any synonym, case-insensitive, '_' for ' ' ("golden retriever",
    /// "Golden_Retriever"). An unknown name is an error that suggests the closest synonym.
    /// </summary>
    public int Resolve(string classOrIndex)
    {
        var s = classOrIndex.Trim();
        if (int.TryParse(s, out var idx))
            return idx >= 0 && idx < Count ? idx : throw new ArgumentException($"class index {idx} is out of range ({_what} classes are 0..{Count - 1})");
        var key = Normalize(s);
        var hits = _synonyms.Value.Where(p => p.name == key).Select(p => p.index).Distinct().ToList();
        if (hits.Count == 1) return hits[0];
        if (hits.Count > 1)
            throw new ArgumentException($"class name '{s}' is ambiguous: classes {string.Join(", ", hits.Select(h => $"{h} ({Name(h)})"))}; give the index");
        var best = Spelling.Closest(_synonyms.Value.Select(p => p.name), key);
        var hint = best is null ? "" : $" (did you mean '{best}', class {_synonyms.Value.First(p => p.name == best).index}?)";
        throw new ArgumentException($"unknown {_what} class '{s}'{hint}");
    }

    static string Normalize(string name) => name.Replace('_', ' ').Trim().ToLowerInvariant();
}
