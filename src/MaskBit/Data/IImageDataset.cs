using MaskBit.Generation;
using MaskBit.Imaging;

namespace MaskBit.Data;

/// <summary>Which of a config's two data sets: <c>dataset.params.train_shards_path_or_url</c> or <c>eval_shards_path_or_url</c>.</summary>
public enum DataSplit { Train, Eval }

/// <summary>One labelled image of a data set. <see cref="Key"/> names it (the shards' <c>__key__</c>, a file's path
/// relative to its folder, or an IDX record number) for file names and messages.</summary>
public sealed record Example(RgbImage Image, int Label, string Key);

/// <summary>
/// A labelled image data set with random access: an image folder (<see cref="ImageFolderDataset"/>), the original's
/// webdataset tar shards (<see cref="ShardDataset"/>) or IDX files such as Fashion-MNIST (<see cref="IdxDataset"/>).
/// Images come as 8-bit RGB, grayscale replicated to three channels. <see cref="Get"/> is thread-safe: the loader
/// calls it from several workers.
/// </summary>
public interface IImageDataset
{
    /// <summary>Where the data comes from (folder, shard pattern, IDX file), for messages.</summary>
    string Source { get; }

    /// <summary>Number of examples; indices are 0 .. Count - 1.</summary>
    int Count { get; }

    /// <summary>The class names in label order; every label is below <c>ClassNames.Count</c>.</summary>
    ClassNames ClassNames { get; }

    /// <summary>Number of classes (labels are 0 .. NumClasses - 1).</summary>
    int NumClasses => ClassNames.Count;

    /// <summary>Reads and decodes example <paramref name="index"/>; a file that cannot be read or decoded is an
    /// error naming it.</summary>
    Example Get(int index);

    /// <summary>The label of example <paramref name="index"/>; data sets that know it without decoding answer cheaply.</summary>
    int LabelOf(int index) => Get(index).Label;
}
