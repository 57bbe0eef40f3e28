using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using MaskBit.Config;
using MaskBit.Distributed;
using MaskBit.Imaging;

namespace MaskBit.Data;

/// <summary>Where a loader stands: batch <see cref="Batch"/> (0-based) of epoch <see cref="Epoch"/>. Save the loader's
/// <see cref="DataLoader.Position"/> with a checkpoint and pass it back to resume with exactly the batches that would
/// have come next.</summary>
public readonly record struct LoaderPosition(int Epoch, int Batch)
{
    public override string ToString() => $"epoch {Epoch}, batch {Batch}";
}

/// <summary>How a <see cref="DataLoader"/> reads a data set.</summary>
public sealed record LoaderOptions
{
    /// <summary>Examples per batch (per rank: the config's <c>training.per_gpu_batch_size</c>).</summary>
    public required int BatchSize { get; init; }
    /// <summary>Training: a new shuffled order every epoch, endless epochs, full batches only. Evaluation: data-set
    /// order, one pass, the last batch may be short.</summary>
    public bool Train { get; init; } = true;
    /// <summary>Seeds the order and every example's augmentation; same seed, same batches.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Decoding threads (capped to the machine's cores); batches are identical for any number.</summary>
    public int Workers { get; init; } = 2;
    /// <summary>Batches each worker may have ready ahead of the consumer.</summary>
    public int PrefetchPerWorker { get; init; } = 2;
    /// <summary>Data parallelism: this process's rank and the number of processes; each rank reads its own slice.</summary>
    public int Rank { get; init; }
    public int WorldSize { get; init; } = 1;
    /// <summary>Data parallelism by rows: this process's part of every batch of <see cref="BatchSize"/> (then the global
    /// batch), the other rows not read. The parts of all processes are, row for row, the batches one process reads
    /// (same order, same augmentation draws), so N processes see what one sees.</summary>
    public Shard Rows { get; init; } = Shard.Whole;
    /// <summary>With tar shards in training: &gt; 0 gives the original's order (shards drawn with replacement, their
    /// samples through a shuffle buffer of this size); 0 a full permutation per epoch. Ignored for other data sets.</summary>
    public int ShuffleBufferSize { get; init; }
    /// <summary>3 (RGB) or 1 (luminance, PIL's <c>convert('L')</c>; exact for grayscale data): <c>model.vq_model.num_channels</c>.</summary>
    public int Channels { get; init; } = 3;
}

/// <summary>A batch of a <see cref="DataLoader"/>; owns its tensors (dispose it, or let a dispose scope do so).</summary>
public sealed class Batch : IDisposable
{
    internal Batch(Tensor images, Tensor labels, string[] keys, LoaderPosition position) =>
        (Images, Labels, Keys, Position) = (images, labels, keys, position);

    /// <summary>[B, C, S, S] float32 in [0, 1] (values k/255, as torchvision's ToTensor), on the CPU.</summary>
    public Tensor Images { get; }
    /// <summary>[B] int64 class ids.</summary>
    public Tensor Labels { get; }
    /// <summary>B example keys (<see cref="Example.Key"/>), e.g. for the original's <c>{step}_s-{i}-{key}.png</c> names.</summary>
    public IReadOnlyList<string> Keys { get; }
    /// <summary>Where this batch lies in the loader's order.</summary>
    public LoaderPosition Position { get; }
    public int Count => Keys.Count;

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Batches of a data set decoded and augmented by worker threads while the caller trains, in an order fixed by the
/// seed alone: batch k is always made of the same examples with the same augmentation, whatever the number of workers
/// (each worker builds whole batches k = w, w + N, ... into its own bounded queue, read back in turn). Example j of an
/// epoch's order gets the augmentation random stream seeded from (seed, epoch, rank, j).
/// <para>Training runs endless epochs; <see cref="Next"/> never returns null. Evaluation is one pass: null after the
/// last batch. <see cref="Position"/> is the position of the batch <see cref="Next"/> returns next; a loader
/// constructed with it continues identically. Dispose stops the workers.</para>
/// </summary>
public sealed class DataLoader : IDisposable
{
    readonly IImageDataset _dataset;
    readonly ImageTransform _transform;
    readonly LoaderOptions _options;
    readonly int _perRank;           // examples of one epoch for this rank
    readonly long _first;            // absolute batch number (epoch * BatchesPerEpoch + batch) of the start position
    readonly long _total;            // evaluation: batches left from the start position; training: unbounded
    readonly BlockingCollection<Prepared>[] _queues;
    readonly Thread[] _threads;
    readonly CancellationTokenSource _stop = new();
    long _next;                      // batches handed out so far
    ExceptionDispatchInfo? _failed;  // a worker's error, thrown again by every later Next
    bool _disposed;

    // A batch as bytes, made by a worker: pixels [B, C, S, S] uint8, or the error that stopped the worker.
    sealed record Prepared(byte[] Pixels, long[] Labels, string[] Keys, LoaderPosition Position, ExceptionDispatchInfo? Error = null);

    public DataLoader(IImageDataset dataset, ImageTransform transform, LoaderOptions options, LoaderPosition start = default)
    {
        if (options.BatchSize < 1) throw new ArgumentException($"batch size must be >= 1, got {options.BatchSize}");
        if (options.WorldSize < 1 || options.Rank < 0 || options.Rank >= options.WorldSize)
            throw new ArgumentException($"rank must be in 0..world size - 1, got rank {options.Rank} of {options.WorldSize}");
        if (options.Channels is not (1 or 3)) throw new ArgumentException($"images must have 1 or 3 channels, got {options.Channels}");
        _dataset = dataset;
        _transform = transform;
        _options = options;
        int w = options.WorldSize, r = options.Rank;
        _perRank = options.Train ? dataset.Count / w : (dataset.Count - r + w - 1) / w;
        BatchesPerEpoch = options.Train ? _perRank / options.BatchSize : (_perRank + options.BatchSize - 1) / options.BatchSize;
        if (BatchesPerEpoch == 0)
            throw new ArgumentException($"data set {dataset.Source} has {dataset.Count} examples, fewer than one batch of {options.BatchSize} per process ({w} processes)");
        if (start.Epoch < 0 || start.Batch < 0 || start.Batch >= BatchesPerEpoch || (!options.Train && start.Epoch > 0))
            throw new ArgumentException($"loader position {start} is outside the data ({BatchesPerEpoch} batches per epoch{(options.Train ? "" : ", one epoch")})");
        _first = (long)start.Epoch * BatchesPerEpoch + start.Batch;
        _total = options.Train ? long.MaxValue : BatchesPerEpoch - start.Batch;

        int workers = Math.Clamp(options.Workers, 1, Environment.ProcessorCount);
        _queues = Enumerable.Range(0, workers).Select(_ => new BlockingCollection<Prepared>(Math.Max(1, options.PrefetchPerWorker))).ToArray();
        _threads = Enumerable.Range(0, workers).Select(i => new Thread(() => Work(i)) { IsBackground = true, Name = $"maskbit-data-{i}" }).ToArray();
        foreach (var t in _threads) t.Start();
    }

    /// <summary>A loader for a config's training or evaluation data (<see cref="Datasets.FromConfig"/>): batch size
    /// <c>training.per_gpu_batch_size</c>, seed <c>training.seed</c> (unseeded when null), workers
    /// <c>dataset.params.num_workers_per_gpu</c>, <c>shuffle_buffer_size</c>, transform from
    /// <c>dataset.preprocessing</c>, channels from <c>model.vq_model.num_channels</c>.</summary>
    /// <param name="batchSize">Examples per batch; default <c>training.per_gpu_batch_size</c>.</param>
    /// <param name="rows">This process's rows of every batch (<see cref="LoaderOptions.Rows"/>).</param>
    public static DataLoader FromConfig(ExperimentConfig config, DataSplit split, LoaderPosition start = default, int? batchSize = null, Shard? rows = null)
    {
        var dataset = Datasets.FromConfig(config, split);
        var p = config.Dataset!.Params!;
        var training = config.Training ?? new TrainingConfig();
        var options = new LoaderOptions
        {
            BatchSize = batchSize ?? training.PerGpuBatchSize,
            Train = split == DataSplit.Train,
            Seed = training.Seed ?? Random.Shared.Next(),
            Workers = p.NumWorkersPerGpu,
            ShuffleBufferSize = p.ShuffleBufferSize,
            Channels = config.Model?.VqModel?.NumChannels ?? 3,
            Rows = rows ?? Shard.Whole,
        };
        return new DataLoader(dataset, ImageTransform.FromConfig(config.Dataset.Preprocessing ?? new(), split == DataSplit.Train), options, start);
    }

    public IImageDataset Dataset => _dataset;

    /// <summary>Batches per epoch for this rank (training: full batches only).</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>Position of the batch <see cref="Next"/> returns next (after the last evaluation batch: epoch 1, batch 0).</summary>
    public LoaderPosition Position => At(_first + _next);

    /// <summary>The next batch; null only when an evaluation pass is over. A worker's error (an unreadable image)
    /// is thrown here, at the batch it belongs to, and again by every later call.</summary>
    public Batch? Next()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _failed?.Throw();
        if (_next >= _total) return null;
        var item = _queues[_next % _queues.Length].Take(_stop.Token);
        (_failed = item.Error)?.Throw();
        _next++;
        int n = item.Labels.Length, s = _transform.Resolution;
        using var scope = NewDisposeScope();
        var images = torch.tensor(item.Pixels, new long[] { n, _options.Channels, s, s }).to(float32).div_(Const(255)); // [B, C, S, S]
        return new Batch(images.MoveToOuterDisposeScope(), torch.tensor(item.Labels).MoveToOuterDisposeScope(), item.Keys, item.Position);
    }

    LoaderPosition At(long absolute) => new((int)(absolute / BatchesPerEpoch), (int)(absolute % BatchesPerEpoch));

    void Work(int worker)
    {
        var queue = _queues[worker];
        (int Epoch, int[] Order) cached = (-1, []);
        try
        {
            for (long k = worker; k < _total; k += _queues.Length)
            {
                var position = At(_first + k);
                if (cached.Epoch != position.Epoch) cached = (position.Epoch, EpochOrder(position.Epoch));
                Prepared item;
                try { item = Build(position, cached.Order); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    queue.Add(new Prepared([], [], [], position, ExceptionDispatchInfo.Capture(e)), _stop.Token);
                    return;
                }
                queue.Add(item, _stop.Token);
            }
        }
        catch (OperationCanceledException) { }
    }

    Prepared Build(LoaderPosition position, int[] order)
    {
        int s = _transform.Resolution, c = _options.Channels, plane = s * s;
        int begin = position.Batch * _options.BatchSize, size = Math.Min(_options.BatchSize, _perRank - begin);
        var (first, end) = _options.Rows.Range(size);
        int n = (int)(end - first);
        var pixels = new byte[n * c * plane]; // [B, C, S, S]: this process's rows
        var labels = new long[n];
        var keys = new string[n];
        for (int j = 0; j < n; j++)
        {
            _stop.Token.ThrowIfCancellationRequested();
            int row = begin + (int)first + j;
            var example = _dataset.Get(order[row]);
            var image = _transform.Apply(example.Image, new Random(Seeds.Mix(_options.Seed, position.Epoch, _options.Rank, row)));
            Pack(image, pixels.AsSpan(j * c * plane, c * plane), c);
            labels[j] = example.Label;
            keys[j] = example.Key;
        }
        return new Prepared(pixels, labels, keys, position);
    }

    // [S, S, 3] interleaved RGB -> [C, S, S] planes; one channel is PIL's luminance (ITU-R 601-2, fixed point).
    static void Pack(RgbImage image, Span<byte> dst, int channels)
    {
        var src = image.Pixels;
        int plane = image.Width * image.Height;
        for (int p = 0; p < plane; p++)
        {
            byte r = src[3 * p], g = src[3 * p + 1], b = src[3 * p + 2];
            if (channels == 1) dst[p] = (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
            else (dst[p], dst[plane + p], dst[2 * plane + p]) = (r, g, b);
        }
    }

    /// <summary>The dataset indices of this rank's examples in <paramref name="epoch"/>, in order.</summary>
    int[] EpochOrder(int epoch)
    {
        int w = _options.WorldSize, r = _options.Rank;
        if (!_options.Train) return Enumerable.Range(0, _perRank).Select(i => r + i * w).ToArray();
        if (_dataset is ShardDataset shards && _options.ShuffleBufferSize > 0)
            return ResampledShardsOrder(shards.ShardStarts, shards.Count, _perRank, _options.ShuffleBufferSize, new Random(Seeds.Mix(_options.Seed, epoch, r, -1)));
        // One permutation of the whole data set per epoch, shared by all ranks; rank r takes every w-th entry from r.
        var all = Enumerable.Range(0, _dataset.Count).ToArray();
        new Random(Seeds.Mix(_options.Seed, epoch, -1, -1)).Shuffle(all);
        return Enumerable.Range(0, _perRank).Select(i => all[r + i * w]).ToArray();
    }

    /// <summary>
    /// The original's training order (webdataset <c>ResampledShards</c> + <c>shuffle(buffer)</c>), as indices: shards
    /// drawn uniformly with replacement, each read in tar order into a buffer; once it holds
    /// <paramref name="buffer"/> samples, a uniformly chosen one leaves it for every one that enters.
    /// </summary>
    internal static int[] ResampledShardsOrder(IReadOnlyList<int> shardStarts, int count, int length, int buffer, Random rng)
    {
        var order = new int[length];
        var pool = new List<int>(buffer + 1);
        int emitted = 0;
        while (emitted < length)
        {
            int shard = rng.Next(shardStarts.Count);
            int end = shard + 1 < shardStarts.Count ? shardStarts[shard + 1] : count;
            for (int i = shardStarts[shard]; i < end && emitted < length; i++)
            {
                pool.Add(i);
                if (pool.Count < buffer) continue;
                int pick = rng.Next(pool.Count);
                order[emitted++] = pool[pick];
                pool[pick] = pool[^1];
                pool.RemoveAt(pool.Count - 1);
            }
        }
        return order;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        foreach (var t in _threads) t.Join();
        foreach (var q in _queues) q.Dispose();
        _stop.Dispose();
    }
}

/// <summary>Seeds derived from several integers (SplitMix64 finaliser), so that each example, epoch and rank has its
/// own reproducible random stream and no global random state is used.</summary>
static class Seeds
{
    /// <summary>A seed for <see cref="Random"/> (an int): the seed itself when it fits, else a mix of its bits.</summary>
    public static int ForRandom(ulong seed) => seed <= int.MaxValue ? (int)seed : Mix(unchecked((long)seed));

    public static int Mix(params long[] values)
    {
        ulong h = 0x9E3779B97F4A7C15;
        foreach (var v in values)
        {
            h = unchecked((h ^ (ulong)v) + 0x9E3779B97F4A7C15);
            h = unchecked((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9);
            h = unchecked((h ^ (h >> 27)) * 0x94D049BB133111EB);
            h ^= h >> 31;
        }
        return (int)(h & int.MaxValue);
    }
}
