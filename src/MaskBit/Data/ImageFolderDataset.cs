using MaskBit.Generation;
using MaskBit.Imaging;

namespace MaskBit.Data;

/// <summary>
/// torchvision's <c>ImageFolder</c> layout: one sub-folder per class, class ids = folder names in sorted (ordinal)
/// order, images anywhere below their class folder, examples ordered by class then by path. Files with other
/// extensions than <see cref="Extensions"/> are ignored, as are hidden (dot) folders and files.
/// </summary>
public sealed class ImageFolderDataset : IImageDataset
{
    /// <summary>File extensions read as images (case-insensitive): the formats SkiaSharp decodes.</summary>
    public static readonly IReadOnlySet<string> Extensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif" };

    readonly List<(string Path, int Label)> _files = [];

    /// <summary>Lists the folder (no image is read yet); a missing folder, one without class folders or a class
    /// folder without images is an error naming it.</summary>
    public ImageFolderDataset(string root)
    {
        Source = root;
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"image folder {root} not found");
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0)
            throw new InvalidDataException($"image folder {root} has no class sub-folders (expected one folder of images per class)");
        for (int label = 0; label < classes.Count; label++)
        {
            var classDir = Path.Combine(root, classes[label]);
            var images = Directory.EnumerateFiles(classDir, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f)))
                .Where(f => !Path.GetRelativePath(classDir, f).Split(Path.DirectorySeparatorChar).Any(p => p.StartsWith('.')))
                .Order(StringComparer.Ordinal).ToList();
            if (images.Count == 0)
                throw new InvalidDataException($"class folder {classDir} holds no images ({string.Join(", ", Extensions)})");
            _files.AddRange(images.Select(f => (f, label)));
        }
        ClassNames = new ClassNames(classes, root);
    }

    public string Source { get; }
    public int Count => _files.Count;
    public ClassNames ClassNames { get; }

    /// <summary>Every image file and its label, in example order.</summary>
    public IReadOnlyList<(string Path, int Label)> Files => _files;

    public int LabelOf(int index) => _files[index].Label;

    public Example Get(int index)
    {
        var (path, label) = _files[index];
        return new Example(Images.Read(path), label, Path.ChangeExtension(Path.GetRelativePath(Source, path), null));
    }
}
