using System.Security.Cryptography;
using System.Text;

namespace MaskBit.Interop;

/// <summary>
/// SHA-256 digests of the files of a folder the project writes (a model folder, a training checkpoint), so that a bit
/// flip on disk or a half-copied folder is refused at load instead of becoming a silently different model. Formats
/// with checksums of their own cover only their own bytes (zip CRC-32) or nothing (safetensors tensor data, configs);
/// the digest file covers every file of the folder, and a file nobody listed.
/// </summary>
/// <remarks>
/// The digests live in the folder's <c>SHA256SUMS</c>, in the format of coreutils' <c>sha256sum</c>, so
/// <c>cd folder &amp;&amp; sha256sum -c SHA256SUMS</c> checks it too: one line per file,
/// <c>&lt;64 lowercase hex digits&gt;&lt;two spaces&gt;&lt;path relative to the folder, '/'-separated&gt;</c>, sorted
/// by path (ordinal), each ending in '\n'. Every file under the folder, subfolders included, is listed, except
/// <c>SHA256SUMS</c> itself and the temporary files of an interrupted <see cref="AtomicFile.Write"/>.
/// Write the digests last, after every other file of the folder: a crash before then leaves digests that do not
/// match, so the half-written folder is refused.
/// </remarks>
public static class FileDigests
{
    /// <summary>The name of the digest file inside the folder.</summary>
    public const string FileName = "SHA256SUMS";

    /// <summary>
    /// Hashes every file of <paramref name="folder"/> (recursively) and writes its <see cref="FileName"/> atomically,
    /// replacing an older one. Throws <see cref="CheckpointException"/> if the folder or a file cannot be read.
    /// </summary>
    public static void Write(string folder)
    {
        var path = Path.Combine(folder, FileName);
        Checkpoint.Guard(path, () =>
        {
            var text = new StringBuilder();
            foreach (var name in Files(folder))
            {
                if (name.IndexOfAny(['\n', '\r', '\\']) >= 0) throw new InvalidDataException($"file name {name} cannot be listed (newline or backslash)");
                text.Append(Hash(Path.Combine(folder, name))).Append("  ").Append(name).Append('\n');
            }
            AtomicFile.WriteAllText(path, text.ToString());
            return 0;
        });
    }

    /// <summary>
    /// Checks <paramref name="folder"/> against its <see cref="FileName"/>: the files present must be exactly the
    /// files listed, each with the listed SHA-256. Throws one <see cref="CheckpointException"/> naming the first file
    /// that differs, is missing or is not listed (or the digest file, when it is missing or malformed).
    /// <paramref name="skip"/> = true returns at once without reading anything, for users who must load a folder whose
    /// digests are missing or knowingly out of date (e.g. a config edited by hand).
    /// </summary>
    public static void Verify(string folder, bool skip = false)
    {
        if (skip) return;
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: no SHA-256 digests for the folder (file not found); write them with FileDigests.Write or skip the check");
        var listed = Checkpoint.Guard(path, () => Read(path));
        var present = Checkpoint.Guard(folder, () => Files(folder));
        var unlisted = present.FirstOrDefault(name => !listed.ContainsKey(name));
        if (unlisted is not null) throw new CheckpointException($"{Path.Combine(folder, unlisted)}: not listed in {FileName}");
        var missing = listed.Keys.FirstOrDefault(name => !present.Contains(name));
        if (missing is not null) throw new CheckpointException($"{Path.Combine(folder, missing)}: listed in {FileName} but missing");
        foreach (var (name, expected) in listed)
        {
            var file = Path.Combine(folder, name);
            var actual = Checkpoint.Guard(file, () => Hash(file));
            if (actual != expected) throw new CheckpointException($"{file}: SHA-256 differs from {FileName} (expected {expected}, got {actual})");
        }
    }

    /// <summary>The content files of the folder: relative '/'-separated paths, sorted ordinally.</summary>
    static SortedSet<string> Files(string folder) =>
        new(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
                .Where(name => name != FileName && !AtomicFile.IsTemporary(Path.GetFileName(name))),
            StringComparer.Ordinal);

    static string Hash(string file)
    {
        using var s = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    /// <summary>Parses a digest file (sha256sum's text and binary markers both accepted) into path -> lowercase hex.</summary>
    static SortedDictionary<string, string> Read(string path)
    {
        var listed = new SortedDictionary<string, string>(StringComparer.Ordinal);
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0) continue;
            var name = line.Length > 66 && line[64] == ' ' && line[65] is ' ' or '*' ? line[66..] : null;
            if (name is null || !IsHex(line.AsSpan(0, 64)) || Path.IsPathRooted(name) || name.Split('/').Contains(".."))
                throw new InvalidDataException($"line {number} is not \"<64 hex digits>  <relative path>\"");
            if (!listed.TryAdd(name, line[..64].ToLowerInvariant())) throw new InvalidDataException($"line {number}: {name} is listed twice");
        }
        return listed;
    }

    static bool IsHex(ReadOnlySpan<char> s) => !s.ContainsAnyExcept("0123456789abcdefABCDEF");
}
