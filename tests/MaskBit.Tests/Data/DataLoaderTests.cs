using MaskBit.Config;
using MaskBit.Data;
using MaskBit.Imaging;
using MaskBit.Tests.Cli;
using TorchSharp;
using static TorchSharp.torch;
using static MaskBit.Tests.Data.DataFixtures;

namespace MaskBit.Tests.Data;

/// <summary>The parallel loader: batch content, determinism for a seed whatever the workers, resume, ranks, errors.</summary>
public class DataLoaderTests
{
    static readonly ImageTransform Train8 = new(8, Interpolation.Bilinear, randomCrop: true, minScale: 0.5);

    static DataLoader Loader(IImageDataset data, int workers = 2, int batch = 3, LoaderPosition start = default, bool train = true,
        int seed = 1, int rank = 0, int world = 1, int channels = 3, ImageTransform? transform = null) =>
        new(data, transform ?? Train8, new LoaderOptions
        {
            BatchSize = batch, Workers = workers, Seed = seed, Train = train, Rank = rank, WorldSize = world, Channels = channels,
        }, start);

    // Batches as comparable values: (keys, labels, image bytes).
    static List<(string Keys, long[] Labels, float[] Pixels)> Read(DataLoader loader, int count) =>
        Enumerable.Range(0, count).Select(_ =>
        {
            using var b = loader.Next()!;
            return (string.Join(",", b.Keys), b.Labels.data<long>().ToArray(), b.Images.data<float>().ToArray());
        }).ToList();

    [Fact]
    public void BatchesAreFloatImagesInZeroOneAndInt64Labels()
    {
        using var loader = Loader(new SyntheticDataset(10));
        using var b = loader.Next()!;
        Assert.Equal(new long[] { 3, 3, 8, 8 }, b.Images.shape);
        Assert.Equal((ScalarType.Float32, ScalarType.Int64), (b.Images.dtype, b.Labels.dtype));
        Assert.Equal(new long[] { 3 }, b.Labels.shape);
        Assert.InRange(b.Images.min().item<float>(), 0f, 1f);
        Assert.InRange(b.Images.max().item<float>(), 0f, 1f);
        Assert.Equal(b.Keys.Select(k => (long)(int.Parse(k) % 3)), b.Labels.data<long>().ToArray());
        Assert.Equal(3, loader.BatchesPerEpoch); // 10 examples, full batches of 3
    }

    [Fact]
    public void SameSeedSameBatchesWhateverTheWorkerCountAndEpochsReshuffle()
    {
        var data = new SyntheticDataset(10);
        List<(string Keys, long[] Labels, float[] Pixels)> one, two;
        using (var l = Loader(data, workers: 1)) one = Read(l, 7);
        using (var l = Loader(data, workers: 2)) two = Read(l, 7);
        Assert.Equal(one.Select(b => b.Keys), two.Select(b => b.Keys));
        Assert.Equal(one.Select(b => b.Pixels), two.Select(b => b.Pixels));
        Assert.Equal(one.Select(b => b.Labels), two.Select(b => b.Labels));

        var epoch0 = one.Take(3).SelectMany(b => b.Keys.Split(',')).ToList();
        var epoch1 = one.Skip(3).Take(3).SelectMany(b => b.Keys.Split(',')).ToList();
        Assert.Equal(9, epoch0.Distinct().Count());                 // an epoch draws without replacement
        Assert.Equal(9, epoch1.Distinct().Count());
        Assert.NotEqual(epoch0, epoch1);                           // and is shuffled anew

        using var other = Loader(data, seed: 2);
        Assert.NotEqual(one[0].Pixels, Read(other, 1)[0].Pixels);
    }

    [Fact]
    public void AResumedLoaderContinuesWithExactlyTheSameBatches()
    {
        var data = new SyntheticDataset(10);
        using var full = Loader(data);
        var before = Read(full, 2);
        var saved = full.Position;
        var rest = Read(full, 5);
        Assert.Equal(new LoaderPosition(0, 2), saved);
        var json = System.Text.Json.JsonSerializer.Serialize(saved);                  // as a checkpoint stores it
        Assert.Equal(saved, System.Text.Json.JsonSerializer.Deserialize<LoaderPosition>(json));
        Assert.Equal(new LoaderPosition(2, 1), full.Position);

        using var resumed = Loader(data, workers: 1, start: saved);
        Assert.Equal(saved, resumed.Position);
        var again = Read(resumed, 5);
        Assert.Equal(rest.Select(b => b.Keys), again.Select(b => b.Keys));
        Assert.Equal(rest.Select(b => b.Pixels), again.Select(b => b.Pixels));
        Assert.NotEqual(before[0].Keys, again[0].Keys);

        Assert.Throws<ArgumentException>(() => Loader(data, start: new LoaderPosition(0, 3)));
    }

    [Fact]
    public void EvaluationIsOnePassInDataOrderWithAShortLastBatchAndTheEvalTransform()
    {
        var data = new SyntheticDataset(7);
        var eval = new ImageTransform(8, Interpolation.Bicubic, randomCrop: false);
        using var loader = Loader(data, batch: 3, train: false, transform: eval);
        var batches = new List<Batch>();
        while (loader.Next() is { } b) batches.Add(b);
        Assert.Equal(new[] { 3, 3, 1 }, batches.Select(b => b.Count));
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"{i:D3}"), batches.SelectMany(b => b.Keys));
        Assert.Null(loader.Next());
        Assert.Equal(new LoaderPosition(1, 0), loader.Position);
        // channel planes [C, S, S] hold exactly the 8-bit evaluation crop / 255
        using var expected = Images.EvalTransform(data.Get(4).Image, 8, Interpolation.Bicubic);
        Assert.Equal(expected.data<float>().ToArray(), batches[1].Images[1].data<float>().ToArray());
        foreach (var b in batches) b.Dispose();
    }

    [Fact]
    public void EachRankReadsItsOwnSlice()
    {
        var data = new SyntheticDataset(13);
        var keys = new List<string>[2];
        for (int rank = 0; rank < 2; rank++)
        {
            using var loader = Loader(data, batch: 2, rank: rank, world: 2);
            Assert.Equal(3, loader.BatchesPerEpoch);               // 13 / 2 = 6 examples per rank, 3 batches
            keys[rank] = Read(loader, 3).SelectMany(b => b.Keys.Split(',')).ToList();
        }
        Assert.Empty(keys[0].Intersect(keys[1]));
        Assert.Equal(12, keys[0].Concat(keys[1]).Distinct().Count());

        using var eval0 = Loader(data, batch: 4, train: false, rank: 0, world: 2);
        Assert.Equal("000,002,004,006", string.Join(",", eval0.Next()!.Keys));
        Assert.Throws<ArgumentException>(() => Loader(data, rank: 2, world: 2));
    }

    [Fact]
    public void OneChannelIsTheLuminanceWhichForGrayImagesIsTheGrayValue()
    {
        using var tmp = new CliRunner.TempDir();
        FashionMnistFolder(tmp["fm"], trainCount: 6, testCount: 1);
        var data = IdxDataset.FashionMnist(tmp["fm"], DataSplit.Train);
        var eval = new ImageTransform(4, Interpolation.Bilinear, randomCrop: false); // 5x4 -> 5x4 shorter side, crop 4x4
        using var rgb = Loader(data, train: false, transform: eval, batch: 6);
        using var gray = Loader(data, train: false, transform: eval, batch: 6, channels: 1);
        using var a = rgb.Next()!;
        using var b = gray.Next()!;
        Assert.Equal(new long[] { 6, 1, 4, 4 }, b.Images.shape);
        Assert.Equal(a.Images[.., 0..1].data<float>().ToArray(), b.Images.data<float>().ToArray());
        Assert.Equal(a.Images[.., 0].data<float>().ToArray(), a.Images[.., 2].data<float>().ToArray()); // RGB replicated
    }

    [Fact]
    public void AnUnreadableExampleFailsAtItsBatchWithTheDataSetsMessage()
    {
        var data = new SyntheticDataset(6) { FailAt = 4 };
        using var loader = Loader(data, batch: 2, train: false);
        Assert.NotNull(loader.Next());
        Assert.NotNull(loader.Next());
        var e = Assert.Throws<InvalidDataException>(() => loader.Next());
        Assert.Equal("cannot decode image synthetic/4", e.Message);
        Assert.Throws<InvalidDataException>(() => loader.Next()); // again, instead of waiting for a stopped worker
        Assert.Equal(new LoaderPosition(0, 2), loader.Position);
    }

    [Fact]
    public void TooFewExamplesAndDisposedLoadersAreErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => Loader(new SyntheticDataset(2), batch: 3));
        Assert.Contains("fewer than one batch of 3", e.Message);
        var loader = Loader(new SyntheticDataset(6));
        loader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => loader.Next());
    }

    [Fact]
    public void TheOriginalsShardOrderDrawsShardsAndShufflesThroughABuffer()
    {
        int[] starts = [0, 4, 8];                                          // three shards of 4 samples
        var sequential = DataLoader.ResampledShardsOrder(starts, 12, 12, buffer: 1, new Random(3));
        Assert.All(sequential.Chunk(4), c => Assert.Equal(Enumerable.Range(c[0], 4), c)); // buffer 1: whole shards in tar order
        var shuffled = DataLoader.ResampledShardsOrder(starts, 12, 50, buffer: 5, new Random(3));
        Assert.Equal(50, shuffled.Length);
        Assert.All(shuffled, i => Assert.InRange(i, 0, 11));
        Assert.Equal(shuffled, DataLoader.ResampledShardsOrder(starts, 12, 50, buffer: 5, new Random(3)));
        Assert.NotEqual(shuffled.Order(), shuffled);
    }

    [Fact]
    public void FromConfigReadsBatchSizeSeedChannelsAndResolution()
    {
        using var tmp = new CliRunner.TempDir();
        FashionMnistFolder(tmp["fm"], trainCount: 9, testCount: 5);
        var config = ConfigLoader.LoadFromString($"""
            model:
              vq_model:
                num_channels: 1
            dataset:
              params:
                train_shards_path_or_url: "fashion-mnist:{tmp["fm"]}"
                eval_shards_path_or_url: "fashion-mnist:{tmp["fm"]}"
                num_workers_per_gpu: 8
              preprocessing:
                resolution: 4
            training:
              per_gpu_batch_size: 2
              seed: 5
            """);
        using var train = DataLoader.FromConfig(config, DataSplit.Train);
        using var eval = DataLoader.FromConfig(config, DataSplit.Eval);
        Assert.Equal((4, 3), (train.BatchesPerEpoch, eval.BatchesPerEpoch));
        using var b = train.Next()!;
        Assert.Equal(new long[] { 2, 1, 4, 4 }, b.Images.shape);
        using var again = DataLoader.FromConfig(config, DataSplit.Train);
        using var b2 = again.Next()!;
        Assert.Equal(b.Images.data<float>().ToArray(), b2.Images.data<float>().ToArray());
    }
}
