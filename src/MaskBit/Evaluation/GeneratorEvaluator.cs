using MaskBit.Networks;
namespace MaskBit.Evaluation;

/// <summary>gFID against reference statistics (null without them) and the single-split Inception Score.</summary>
public sealed record GeneratorEvaluation(long Count, double? Fid, double InceptionScore);

/// <summary>
/// The original's <c>GeneratorEvaluator</c> (fidelity 7.3): Inception pool features and logits of generated images,
/// accumulated as float64 sums; FID against reference statistics (ImageNet train, <c>mu</c>/<c>sigma</c> of an .npz)
/// and the single-split Inception Score. The sums can be saved and merged, so shards of one evaluation combine exactly.
/// </summary>
public sealed class GeneratorEvaluator : IDisposable
{
    readonly FeatureMoments _features;
    readonly InceptionScore _score;

    public GeneratorEvaluator() : this(new FeatureMoments(2048), new InceptionScore()) { }

    GeneratorEvaluator(FeatureMoments features, InceptionScore score)
    {
        if (features.Count != score.Count) throw new ArgumentException($"feature sums cover {features.Count} images, Inception Score sums {score.Count}");
        (_features, _score) = (features, score);
    }

    public long Count => _features.Count;

    /// <summary>Adds a batch: uint8 images [B, 3, H, W] run through <paramref name="inception"/>.</summary>
    public void Update(InceptionV3 inception, Tensor uint8Images)
    {
        using var _ = no_grad();
        using var f = inception.call(uint8Images);
        Add(f);
    }

    /// <summary>Adds the extractor's outputs for a batch (2048-d features and unbiased logits).</summary>
    public void Add(InceptionFeatures features)
    {
        _features.Add(features.F2048);
        _score.Add(features.LogitsUnbiased);
    }

    /// <summary>Adds another shard's sums (exact).</summary>
    public void Add(GeneratorEvaluator other)
    {
        _features.Add(other._features);
        _score.Add(other._score);
    }

    /// <summary>Statistics (mu, sigma) of the images seen, e.g. to save as a reference file.</summary>
    public FidStatistics Statistics() => _features.Statistics();

    public GeneratorEvaluation Result(FidStatistics? reference)
    {
        if (Count < 1) throw new InvalidOperationException("no generated images to evaluate");
        double? fid = null;
        if (reference is not null)
        {
            using var stats = _features.Statistics();
            fid = Fid.Distance(reference, stats);
        }
        return new GeneratorEvaluation(Count, fid, _score.Result());
    }

    static readonly string[] StateKeys = ["count", "feature_sum", "feature_outer_sum", "is_prob_sum", "is_kl_sum"];

    /// <summary>The float64 partial sums as named arrays (for an .npz state file; <see cref="FromState"/> reads them).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State() =>
    [
        new("count", tensor(Count)), new("feature_sum", _features.Sum), new("feature_outer_sum", _features.SumOuter),
        new("is_prob_sum", _score.ProbSum), new("is_kl_sum", _score.KlSum),
    ];

    /// <summary>Restores partial sums written by <see cref="State"/>; <paramref name="what"/> names the source in errors.</summary>
    public static GeneratorEvaluator FromState(IReadOnlyDictionary<string, Tensor> arrays, string what)
    {
        foreach (var key in StateKeys)
            if (!arrays.ContainsKey(key)) throw new InvalidDataException($"{what}: no '{key}' array (not a partial evaluation state)");
        long count = arrays["count"].item<long>();
        return new GeneratorEvaluator(new FeatureMoments(arrays["feature_sum"], arrays["feature_outer_sum"], count),
            new InceptionScore(arrays["is_prob_sum"], arrays["is_kl_sum"], count));
    }

    public void Dispose()
    {
        _features.Dispose();
        _score.Dispose();
    }
}
