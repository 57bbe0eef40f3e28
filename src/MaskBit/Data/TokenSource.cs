using MaskBit.Config;
using MaskBit.Generation;
using MaskBit.Tokenizer;

namespace MaskBit.Data;

/// <summary>Where Stage II tokens come from: a <see cref="TokenCache"/> folder, or images encoded on the fly.</summary>
sealed class TokenSource : IDisposable
{
    readonly TokenCache? _cache;
    readonly ExperimentConfig _config;
    readonly DataSplit _split;
    readonly ITokenizer _tokenizer;
    readonly Device _device;
    public ClassNames ClassNames { get; }
    public string Describe { get; }

    TokenSource(ExperimentConfig config, DataSplit split, ITokenizer tokenizer, Device device, TokenCache? cache, ClassNames classes, string describe) =>
        (_config, _split, _tokenizer, _device, _cache, ClassNames, Describe) = (config, split, tokenizer, device, cache, classes, describe);

    public static TokenSource Open(ExperimentConfig config, DataSplit split, ITokenizer tokenizer, Device device)
    {
        var p = config.Dataset?.Params ?? throw new ConfigException("the config has no dataset.params section (it names the data sets)");
        var spec = split == DataSplit.Train ? p.TrainShardsPathOrUrl : p.EvalShardsPathOrUrl;
        if (File.Exists(Path.Combine(spec, TokenCache.IndexFile)))
        {
            var cache = TokenCache.Read(spec, tokenizer);
            return new TokenSource(config, split, tokenizer, device, cache, cache.ClassNames, $"the token cache {spec} ({cache.Count:N0} examples)");
        }
        var dataset = Datasets.FromConfig(config, split);
        if (dataset.Count == 0) throw new ConfigException($"{spec}: the data set is empty");
        return new TokenSource(config, split, tokenizer, device, null, dataset.ClassNames, $"{dataset.Source} ({dataset.Count:N0} images, encoded on the fly)");
    }

    /// <summary>Endless training batches (tokens [B, h*w], labels [B], the position after the batch).</summary>
    public IEnumerable<(Tensor tokens, Tensor labels, LoaderPosition next)> Batches(int batchSize, int seed, LoaderPosition start)
    {
        if (_cache is not null)
        {
            foreach (var b in _cache.Batches(batchSize, seed, start)) yield return b;
            yield break;
        }
        using var loader = DataLoader.FromConfig(_config, _split, start, batchSize);
        while (loader.Next() is { } batch)
            yield return (Encode(batch.Images), batch.Labels, loader.Position);
    }

    /// <summary>One pass in order (evaluation): tokens [B, h*w], labels [B].</summary>
    public IEnumerable<(Tensor tokens, Tensor labels)> Pass(int batchSize)
    {
        if (_cache is not null)
        {
            for (long s = 0; s < _cache.Count; s += batchSize)
            {
                long n = Math.Min(batchSize, _cache.Count - s);
                yield return (_cache.Tokens.narrow(0, s, n), _cache.Labels.narrow(0, s, n));
            }
            yield break;
        }
        using var loader = DataLoader.FromConfig(_config, _split);
        while (loader.Next() is { } batch)
            yield return (Encode(batch.Images), batch.Labels);
    }

    // images [B, C, S, S] -> tokens [B, h*w] on the CPU. (Not yielded from inside no_grad: the caller's step would
    // run with gradients off while the iterator is suspended there.)
    Tensor Encode(Tensor images)
    {
        using var _ = no_grad();
        return _tokenizer.Tokenize(images.to(_device)).cpu();
    }

    public void Dispose() => _cache?.Dispose();
}
