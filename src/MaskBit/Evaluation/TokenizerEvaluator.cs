using System.Globalization;
using MaskBit.Distributed;
using MaskBit.Networks;
using MaskBit.Pipeline;
using MaskBit.Training.Losses;

namespace MaskBit.Evaluation;

/// <summary>
/// The original TokenizerEvaluator's result (averages over all images; CodebookEntropy in bits). The network-based
/// metrics are null when their network was not given: rFID needs the Inception weights, InceptionScore too, LPIPS the
/// VGG16 and lin weights, FdResNet18 (this port's addition, not one of the original's metrics) the CNTK ResNet-18.
/// </summary>
public sealed record TokenizerEvaluation(double Mae, double Mse, double Psnr, double Ssim, double? InceptionScore, double? RFid,
    double? Lpips, double CodebookUsage, double CodebookEntropy, double? FdResNet18 = null)
{
    /// <summary>The metrics under the original's result-dict keys, in its order (absent metrics left out).</summary>
    public IEnumerable<KeyValuePair<string, double>> Entries()
    {
        yield return new("MAE", Mae);
        yield return new("MSE", Mse);
        yield return new("PSNR", Psnr);
        yield return new("SSIM", Ssim);
        if (InceptionScore is { } inceptionScore) yield return new("InceptionScore", inceptionScore);
        if (RFid is { } rfid) yield return new("rFID", rfid);
        if (Lpips is { } lpips) yield return new("LPIPS", lpips);
        yield return new("CodebookUsage", CodebookUsage);
        yield return new("CodebookEntropy", CodebookEntropy);
        if (FdResNet18 is { } fd) yield return new(FdResNet18Key, fd);
    }

    /// <summary>The result key of the Fréchet distance on CNTK ResNet-18 features (deliberately not "FID": other network).</summary>
    public const string FdResNet18Key = "FD_ResNet18";

    /// <summary>One JSON object line with the original's keys (round-trip precision).</summary>
    public string ToJson() => "{" + string.Join(", ", Entries().Select(e => $"\"{e.Key}\": {e.Value.ToString("R", CultureInfo.InvariantCulture)}")) + "}";
}

/// <summary>
/// The original's <c>TokenizerEvaluator</c> (fidelity 7.2) with every metric: MAE, MSE, PSNR, SSIM, codebook usage and
/// entropy always; Inception Score and rFID when an <see cref="InceptionV3"/> is given; LPIPS when an <see cref="Lpips"/>
/// is given. Sums are float64; each metric is the sum of per-image values / number of images. rFID compares the real
/// images' own Inception statistics with the reconstructions' (not a statistics file), as the original does; with a
/// <see cref="ResNet18Cntk"/>, FD-ResNet18 does the same on its 512-d pooled features.
/// </summary>
public sealed class TokenizerEvaluator(int numCodebookEntries, InceptionV3? inception = null, Lpips? lpips = null, ResNet18Cntk? resnet18 = null) : IDisposable
{
    readonly FeatureMoments? _real18 = resnet18 is null ? null : new FeatureMoments(ResNet18Cntk.FeatureDim);
    readonly FeatureMoments? _fake18 = resnet18 is null ? null : new FeatureMoments(ResNet18Cntk.FeatureDim);
    readonly CodebookUsage _codebook = new(numCodebookEntries);
    readonly FeatureMoments? _real = inception is null ? null : new FeatureMoments(2048);
    readonly FeatureMoments? _fake = inception is null ? null : new FeatureMoments(2048);
    readonly InceptionScore? _is = inception is null ? null : new InceptionScore();
    double _mae, _mse, _psnr, _ssim, _lpips;

    public long NumExamples { get; private set; }

    /// <summary>
    /// The original's <c>eval_tokenizer.py</c> loop (fidelity 7.5): <paramref name="files"/> in batches of the pipeline's
    /// <see cref="MaskBitPipeline.BatchSize"/>, each read with its evaluation transform, reconstructed and added;
    /// <paramref name="onImages"/> after each batch with its size. With a <paramref name="group"/> of N processes each
    /// evaluates its part of the files and every one ends with the sums of all (<see cref="AllReduce"/>).
    /// </summary>
    public void Update(MaskBitPipeline pipeline, IReadOnlyList<string> files, Action<int>? onImages = null, ProcessGroup? group = null)
    {
        group ??= ProcessGroup.Single;
        foreach (var chunk in Shard.Of(group).Of(files).Chunk(pipeline.BatchSize))
        {
            using var scope = NewDisposeScope();
            var real = pipeline.ReadImages(chunk);
            var (fake, tokens) = pipeline.Reconstruct(real);
            Update(real.to(pipeline.Device), fake.to(pipeline.Device), tokens);
            onImages?.Invoke(chunk.Length);
        }
        AllReduce(group);
    }

    /// <summary>
    /// real, fake: [B, 3, H, W], clamped to [0, 1] here (the original's callers clamp before updating);
    /// indices: the batch's codebook indices, any shape.
    /// </summary>
    public void Update(Tensor real, Tensor fake, Tensor indices)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        real = real.detach().clamp(Const(0), Const(1));
        fake = fake.detach().clamp(Const(0), Const(1));
        // MAE/MSE batch sums stay in the inputs' dtype before accumulating, as in the original.
        _mae += ImageMetrics.Mae(real, fake).sum().to(float64).item<double>();
        _mse += ImageMetrics.Mse(real, fake).sum().to(float64).item<double>();
        _psnr += ImageMetrics.Psnr(real, fake).sum().item<double>();
        _ssim += ImageMetrics.Ssim(real, fake).sum().item<double>();
        if (inception is not null)
        {
            using var fakeFeatures = inception.call(InceptionV3.ToUint8(fake));
            using var realFeatures = inception.call(InceptionV3.ToUint8(real));
            _is!.Add(fakeFeatures.LogitsUnbiased);
            _fake!.Add(fakeFeatures.F2048);
            _real!.Add(realFeatures.F2048);
        }
        // The original passes (real, fake) in [0, 1] although LPIPS expects [-1, 1]: kept, for comparable numbers.
        if (lpips is not null) _lpips += lpips.call(real, fake).sum().to(float64).item<double>();
        if (resnet18 is not null)
        {
            _real18!.Add(resnet18.Embed(real));
            _fake18!.Add(resnet18.Embed(fake));
        }
        _codebook.Update(indices);
        NumExamples += real.shape[0];
    }

    /// <summary>Every process's sums, summed: after it each process holds the evaluation of all their images (each
    /// process evaluates its part of the files).</summary>
    public void AllReduce(ProcessGroup group)
    {
        if (!group.IsDistributed) return;
        double[] sums = [_mae, _mse, _psnr, _ssim, _lpips, NumExamples];
        group.AllReduceSum(sums);
        (_mae, _mse, _psnr, _ssim, _lpips, NumExamples) = (sums[0], sums[1], sums[2], sums[3], sums[4], (long)sums[5]);
        foreach (var m in new[] { _real, _fake, _real18, _fake18 }) m?.AllReduce(group);
        _is?.AllReduce(group);
        _codebook.AllReduce(group);
    }

    public TokenizerEvaluation Result()
    {
        if (NumExamples < 1) throw new InvalidOperationException("no examples to evaluate");
        double n = NumExamples;
        double? rfid = _real is not null && _fake is not null ? Fid.Distance(_real, _fake) : null;
        double? fd18 = _real18 is not null && _fake18 is not null ? Fid.Distance(_real18, _fake18) : null;
        return new TokenizerEvaluation(_mae / n, _mse / n, _psnr / n, _ssim / n, _is?.Result(), rfid,
            lpips is null ? null : _lpips / n, _codebook.Usage, _codebook.Entropy, fd18);
    }

    public void Dispose()
    {
        _real?.Dispose();
        _fake?.Dispose();
        _real18?.Dispose();
        _fake18?.Dispose();
        _is?.Dispose();
    }
}
