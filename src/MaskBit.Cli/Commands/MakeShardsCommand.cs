using System.CommandLine;
using MaskBit.Data;

namespace MaskBit.Cli.Commands;

/// <summary>
/// <c>maskbit make-shards IMAGE_FOLDER -o DIR</c>: an image folder (one sub-folder per class) -> the original's
/// webdataset tar shards (fidelity 8.1) plus <c>classes.txt</c>; prints the pattern to put in the config.
/// </summary>
public static class MakeShardsCommand
{
    public static Command Create()
    {
        var input = new Argument<DirectoryInfo>("IMAGE_FOLDER") { Description = "Folder with one sub-folder of images per class (sorted folder names = class ids)" };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Folder to write the shards and classes.txt to", Required = true };
        var prefix = new Option<string?>("--prefix") { Description = "Shard file name prefix: PREFIX-0000.tar, ... (default: the image folder's name)" };
        var maxCount = new Option<int>("--max-count") { Description = "Samples per shard", DefaultValueFactory = _ => ShardWriter.DefaultMaxCount };
        var maxSize = new Option<long>("--max-size") { Description = "Bytes per shard, at most (a new shard starts once reached)", DefaultValueFactory = _ => ShardWriter.DefaultMaxSize };
        var seed = SharedOptions.Seed("Seed of the shuffled sample order");

        var cmd = new Command("make-shards", "Write an image folder as webdataset tar shards (.jpg/.png + .cls), as the original's create_sharded_dataset.py.");
        cmd.Arguments.Add(input);
        foreach (var o in new Option[] { output, prefix, maxCount, maxSize, seed }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var folder = r.GetValue(input)!.FullName;
            var images = new ImageFolderDataset(folder);
            var name = r.GetValue(prefix) ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
            var pattern = Progress.Run($"writing {images.Count} images", images.Count, advance =>
                ShardWriter.FromImageFolder(images, r.GetValue(output)!.FullName, name, r.GetValue(seed),
                    r.GetValue(maxCount), r.GetValue(maxSize), n => advance(n)));
            Console.WriteLine($"wrote {images.Count} images of {images.ClassNames.Count} classes: {pattern}");
            return 0;
        });
        return cmd;
    }
}
