using MaskBit.Config;

namespace MaskBit.Data;

/// <summary>
/// Opens the data set a config names. <c>dataset.params.train_shards_path_or_url</c> (training) and
/// <c>eval_shards_path_or_url</c> (evaluation) each hold one of:
/// <list type="bullet">
/// <item><c>fashion-mnist</c> or <c>fashion-mnist:FOLDER</c>: Fashion-MNIST's IDX files (default folder
/// <see cref="IdxDataset.FashionMnistFolder"/>); training reads <c>train-*</c>, evaluation <c>t10k-*</c>;</item>
/// <item>a path ending in <c>.tar</c>, with brace groups or not (<c>shards/train-{0000..0012}.tar</c>): tar shards as
/// the original's (<see cref="ShardDataset"/>);</item>
/// <item>any other path: an image folder with one sub-folder per class (<see cref="ImageFolderDataset"/>).</item>
/// </list>
/// </summary>
public static class Datasets
{
    public const string FashionMnistScheme = "fashion-mnist";

    /// <summary>The data set of <paramref name="split"/>; a spec that names nothing existing is a <see cref="ConfigException"/>
    /// naming the key.</summary>
    public static IImageDataset FromConfig(ExperimentConfig config, DataSplit split)
    {
        var p = config.Dataset?.Params ?? throw new ConfigException("the config has no dataset.params section (it names the data sets)");
        var (key, spec) = split == DataSplit.Train
            ? ("dataset.params.train_shards_path_or_url", p.TrainShardsPathOrUrl)
            : ("dataset.params.eval_shards_path_or_url", p.EvalShardsPathOrUrl);
        try { return Open(spec, split); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException($"{key}: {e.Message}");
        }
    }

    /// <summary>Opens a data-set spec (the forms above); <paramref name="split"/> matters for Fashion-MNIST only.</summary>
    public static IImageDataset Open(string spec, DataSplit split)
    {
        if (spec == FashionMnistScheme || spec.StartsWith(FashionMnistScheme + ":", StringComparison.Ordinal))
        {
            var folder = spec.Length > FashionMnistScheme.Length ? spec[(FashionMnistScheme.Length + 1)..] : IdxDataset.FashionMnistFolder;
            return IdxDataset.FashionMnist(folder, split);
        }
        if (spec.EndsWith(".tar", StringComparison.OrdinalIgnoreCase)) return new ShardDataset(spec);
        return new ImageFolderDataset(spec);
    }
}
