using System.Text.RegularExpressions;

namespace MaskBit.Interop;

/// <summary>
/// Writes a file so that readers never see half of it and a crash never destroys the previous version: the content
/// goes to a temporary file in the same folder (created if needed), is flushed, then renamed over the target.
/// </summary>
public static partial class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp); // no-op after the rename
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)));

    /// <summary>True for the name of a temporary file <see cref="Write"/> leaves behind when the process dies mid-write
    /// (<c>.&lt;name&gt;.&lt;32 hex digits&gt;.tmp</c>): never content, so folder digests pass over it.</summary>
    public static bool IsTemporary(string fileName) => TemporaryName().IsMatch(fileName);

    [GeneratedRegex(@"^\..+\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex TemporaryName();
}
