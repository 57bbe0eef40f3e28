using MaskBit.Interop;

namespace MaskBit.Pipeline;

/// <summary>
/// The folder every model of this project is shipped and shared in, like a Hugging Face model repository:
/// <list type="bullet">
/// <item><c>config.yaml</c>: the experiment config, in the original's keys (<c>model.vq_model</c>, <c>model.mlm_model</c>,
/// and the sampling knobs that <c>generate</c> uses by default).</item>
/// <item><c>tokenizer.safetensors</c>: the Stage-I weights.</item>
/// <item><c>generator.safetensors</c>: the Stage-II weights in the released key naming (<c>token_emb.*</c>); absent in a
/// tokenizer-only folder.</item>
/// <item><c>classes.txt</c>: one class name per line (synonyms comma-separated); the ImageNet names when absent.</item>
/// <item><c>README.md</c>: the model card (data, training commands, metrics).</item>
/// <item><c>SHA256SUMS</c>: the SHA-256 of every other file (<see cref="FileDigests"/>), checked when loading.</item>
/// </list>
/// Each weight file's safetensors metadata says what it holds (<see cref="KindKey"/>), its token width and the
/// format version, so a file in the wrong place or for another tokenizer is named as such before any shape check.
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = "config.yaml";
    public const string TokenizerFile = "tokenizer.safetensors";
    public const string GeneratorFile = "generator.safetensors";
    public const string ClassesFile = "classes.txt";
    public const string CardFile = "README.md";

    /// <summary>The version of this layout; a folder of a newer version is refused rather than misread.</summary>
    public const int FormatVersion = 1;

    public const string KindKey = "maskbit.kind";
    public const string FormatVersionKey = "maskbit.format_version";
    public const string TokenBitsKey = "maskbit.token_bits";
    public const string CodebookSizeKey = "maskbit.codebook_size";

    /// <summary>True when <paramref name="path"/> is a folder holding a <c>config.yaml</c>.</summary>
    public static bool Looks(string path) => Directory.Exists(path) && File.Exists(Path.Combine(path, ConfigFile));

    /// <summary>The metadata written with a weight file: what it is, for which token width, which layout version.</summary>
    public static Dictionary<string, string> Metadata(string kind, long codebookSize) => new()
    {
        [KindKey] = kind,
        [FormatVersionKey] = FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [TokenBitsKey] = System.Numerics.BitOperations.Log2((ulong)codebookSize).ToString(System.Globalization.CultureInfo.InvariantCulture),
        [CodebookSizeKey] = codebookSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Checks a weight file's metadata: the kind it declares, a format version this code reads, and its codebook size
    /// against the config's. Files without our metadata (e.g. converted by hand) pass; the strict load checks them.
    /// </summary>
    public static void CheckMetadata(string path, IReadOnlyDictionary<string, string> metadata, string kind, long configCodebookSize)
    {
        if (metadata.TryGetValue(KindKey, out var declared) && declared != kind)
            throw new CheckpointException($"{path}: the file holds a {declared}, expected a {kind}");
        if (metadata.TryGetValue(FormatVersionKey, out var v) && (!int.TryParse(v, out var version) || version > FormatVersion))
            throw new CheckpointException($"{path}: model folder format version {v}, this MaskBit reads up to {FormatVersion} (update MaskBit)");
        if (metadata.TryGetValue(CodebookSizeKey, out var c) && c != configCodebookSize.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new CheckpointException($"{path}: {kind} for a codebook of {c} ({metadata.GetValueOrDefault(TokenBitsKey, "?")}-bit tokens), but {ConfigFile} describes {configCodebookSize}");
    }

    /// <summary>
    /// Writes a folder atomically: <paramref name="write"/> fills a temporary sibling folder, which is renamed to
    /// <paramref name="path"/> when complete. An existing non-empty folder is never overwritten.
    /// </summary>
    public static void WriteAtomically(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path.TrimEnd('/', Path.DirectorySeparatorChar));
        if (File.Exists(full)) throw new IOException($"{path}: is a file, expected a new model folder");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"{path}: folder exists and is not empty (nothing is overwritten; choose another output)");
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            FileDigests.Write(temp); // last: a folder whose files do not all match their digests is refused at load
            if (Directory.Exists(full)) Directory.Delete(full); // empty, checked above
            Directory.Move(temp, full);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }
}
