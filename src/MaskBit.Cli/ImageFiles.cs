namespace MaskBit.Cli;

/// <summary>Expands command-line image arguments (files or folders) into a sorted file list.</summary>
static class ImageFiles
{
    static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".ico", ".wbmp", ".heif", ".heic", ".avif" };

    public static List<string> Expand(IEnumerable<string> args)
    {
        var files = new List<string>();
        foreach (var a in args)
        {
            if (Directory.Exists(a))
                files.AddRange(Directory.EnumerateFiles(a, "*", SearchOption.AllDirectories)
                    .Where(f => Extensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal));
            else if (File.Exists(a)) files.Add(a);
            else throw new FileNotFoundException($"{a}: no such file or folder");
        }
        if (files.Count == 0) throw new ArgumentException($"no images found in {string.Join(", ", args)}");
        return files;
    }
}
