using System.Security.Cryptography;
using System.Text.Json;
using MaskBit.Distributed;
using MaskBit.Generation;
using MaskBit.Imaging;
using MaskBit.Interop;
using MaskBit.Tokenizer;

namespace MaskBit.Data;

/// <summary>
/// A data set encoded once by a tokenizer, for Stage II training without running the encoder every step: token
/// indices [N, h*w] (row-major grids) and labels [N], in shards <c>tokens-00000.safetensors</c>, ... of a folder whose
/// <c>cache.json</c> records the tokenizer that made them (its codebook size, grid and a SHA-256 fingerprint of its
/// weights), the class names, the source and whether horizontally flipped copies were added. A cache never meets
/// another tokenizer: <see cref="Read"/> compares the fingerprint. The folder carries <c>SHA256SUMS</c>.
/// </summary>
public sealed class TokenCache : IDisposable
{
    public const string IndexFile = "cache.json";
    const int ShardSize = 50_000;

    /// <summary>[N, h*w] int64.</summary>
    public Tensor Tokens { get; }
    /// <summary>[N] int64.</summary>
    public Tensor Labels { get; }
    public ClassNames ClassNames { get; }
    public string TokenizerFingerprint { get; }
    public long CodebookSize { get; }
    public int GridSize { get; }
    public int Count => (int)Tokens.shape[0];

    TokenCache(Tensor tokens, Tensor labels, ClassNames classes, string fingerprint, long codebookSize, int grid) =>
        (Tokens, Labels, ClassNames, TokenizerFingerprint, CodebookSize, GridSize) = (tokens, labels, classes, fingerprint, codebookSize, grid);

    /// <summary>SHA-256 over the tokenizer's state dict (keys, dtypes, shapes, values): the same weights in any file format
    /// give the same fingerprint.</summary>
    public static string Fingerprint(ITokenizer tokenizer)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in Checkpoint.StateDict(tokenizer.Module))
        {
            using var cpu = e.Tensor.detach().cpu().contiguous();
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{e.Key}|{cpu.dtype}|{string.Join(",", cpu.shape)}\n"));
            sha.AppendData(cpu.bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Encodes every example of <paramref name="dataset"/> (the evaluation transform at <paramref name="resolution"/>;
    /// with <paramref name="flip"/> also each image mirrored) and writes the cache folder atomically; returns the count.
    /// With a <paramref name="group"/> of N processes each encodes its part of every round of batches, and rank 0
    /// writes the same cache one process writes.
    /// </summary>
    public static int Write(string folder, IImageDataset dataset, ITokenizer tokenizer, int resolution, Interpolation interpolation,
        bool flip, Device device, int batchSize = 64, Action<int>? progress = null, ProcessGroup? group = null)
    {
        group ??= ProcessGroup.Single;
        if (dataset.Count == 0) throw new ArgumentException($"{dataset.Source}: the data set is empty");
        var full = Path.GetFullPath(folder);
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"{folder}: folder exists and is not empty (nothing is overwritten)");
        int grid = resolution / tokenizer.DownsamplingFactor, copies = flip ? 2 : 1;
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        if (group.IsMain) Directory.CreateDirectory(temp);
        try
        {
            var tokens = new List<Tensor>();
            var labels = new List<long>();
            int shard = 0, done = 0;
            void Flush(bool last)
            {
                while (labels.Count >= ShardSize || (last && labels.Count > 0))
                {
                    using var scope = NewDisposeScope();
                    var all = cat(tokens, 0);
                    int n = Math.Min(ShardSize, labels.Count);
                    Checkpoint.WriteStateDict(Path.Combine(temp, $"tokens-{shard++:D5}.safetensors"),
                        [new("tokens", all.narrow(0, 0, n)), new("labels", tensor(labels.Take(n).ToArray()))]);
                    var rest = all.narrow(0, n, all.shape[0] - n).clone().DetachFromDisposeScope();
                    foreach (var t in tokens) t.Dispose();
                    tokens.Clear();
                    if (rest.shape[0] > 0) tokens.Add(rest); else rest.Dispose();
                    labels.RemoveRange(0, n);
                }
            }
            // Rounds of batches: each process encodes its batches of a round into the round's rows (a batch, then its
            // mirror images), the rows are summed over the processes, and rank 0 keeps them: one process's order.
            int round = batchSize * group.Size * 4;
            for (int first = 0; first < dataset.Count; first += round)
            {
                using var scope = NewDisposeScope();
                int inRound = Math.Min(round, dataset.Count - first), batches = (inRound + batchSize - 1) / batchSize;
                var roundTokens = zeros([inRound * copies, grid * grid], int64);
                var roundLabels = zeros([inRound * copies], int64);
                var (b0, b1) = Shard.Of(group).Range(batches);
                for (long b = b0; b < b1; b++)
                {
                    int start = first + (int)b * batchSize, n = Math.Min(batchSize, first + inRound - start), row = (int)b * batchSize * copies;
                    var examples = Enumerable.Range(start, n).Select(dataset.Get).ToList();
                    var images = stack(examples.Select(e => Images.EvalTransform(e.Image, resolution, interpolation))).to(device); // [B, 3, S, S]
                    using var label = tensor(examples.Select(e => (long)e.Label).ToArray());
                    using (no_grad())
                        for (int c = 0; c < copies; c++)
                        {
                            roundTokens.narrow(0, row + c * n, n).copy_(tokenizer.Tokenize(c == 0 ? images : images.flip(3)).cpu());
                            roundLabels.narrow(0, row + c * n, n).copy_(label);
                        }
                }
                group.AllReduceSum(roundTokens);
                group.AllReduceSum(roundLabels);
                done += inRound;
                progress?.Invoke(done);
                if (!group.IsMain) continue;
                tokens.Add(roundTokens.DetachFromDisposeScope());
                labels.AddRange(roundLabels.data<long>().ToArray());
                Flush(last: false);
            }
            int count = dataset.Count * copies;
            if (!group.IsMain)
            {
                group.Barrier(); // rank 0 has written the folder
                return count;
            }
            Flush(last: true);
            AtomicFile.WriteAllText(Path.Combine(temp, IndexFile), JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["format"] = "maskbit-token-cache", ["version"] = 1, ["count"] = count, ["shards"] = shard,
                ["grid"] = grid, ["codebook_size"] = tokenizer.Quantize.CodebookSize, ["tokenizer_sha256"] = Fingerprint(tokenizer),
                ["source"] = dataset.Source, ["flipped_copies"] = flip, ["resolution"] = resolution, ["classes"] = dataset.ClassNames.Entries,
            }, new JsonSerializerOptions { WriteIndented = true }));
            FileDigests.Write(temp);
            if (Directory.Exists(full)) Directory.Delete(full);
            Directory.Move(temp, full);
            group.Barrier();
            return count;
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>
    /// Reads a cache made by <paramref name="tokenizer"/>'s weights (checked by fingerprint and codebook size; files by
    /// their digests); a cache of another tokenizer is one clear error.
    /// </summary>
    public static TokenCache Read(string folder, ITokenizer tokenizer)
    {
        var index = Path.Combine(folder, IndexFile);
        if (!File.Exists(index)) throw new FileNotFoundException($"{folder}: not a token cache (no {IndexFile}; make one with maskbit pretokenize)");
        FileDigests.Verify(folder);
        using var doc = JsonDocument.Parse(File.ReadAllText(index));
        var root = doc.RootElement;
        long codebook = root.GetProperty("codebook_size").GetInt64();
        var fingerprint = root.GetProperty("tokenizer_sha256").GetString()!;
        if (codebook != tokenizer.Quantize.CodebookSize)
            throw new ArgumentException($"{folder}: tokens of a codebook of {codebook}, the tokenizer has {tokenizer.Quantize.CodebookSize}");
        if (fingerprint != Fingerprint(tokenizer))
            throw new ArgumentException($"{folder}: made by another tokenizer (weights fingerprint {fingerprint[..12]}..., this tokenizer's differs); run maskbit pretokenize again");
        var tokens = new List<Tensor>();
        var labels = new List<Tensor>();
        try
        {
            for (int s = 0; s < root.GetProperty("shards").GetInt32(); s++)
            {
                var file = Checkpoint.ReadStateDict(Path.Combine(folder, $"tokens-{s:D5}.safetensors"));
                tokens.Add(file["tokens"]);
                labels.Add(file["labels"]);
            }
            var classes = new ClassNames(root.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!), index);
            var cache = new TokenCache(cat(tokens, 0), cat(labels, 0), classes, fingerprint, codebook, root.GetProperty("grid").GetInt32());
            if (cache.Count != root.GetProperty("count").GetInt32())
                throw new InvalidDataException($"{folder}: {cache.Count} tokens, {IndexFile} says {root.GetProperty("count").GetInt32()}");
            if (cache.Count > 0 && (cache.Labels.min().item<long>() < 0 || cache.Labels.max().item<long>() >= classes.Count))
                throw new InvalidDataException($"{folder}: labels {cache.Labels.min().item<long>()}..{cache.Labels.max().item<long>()} outside the {classes.Count} classes of {IndexFile}");
            return cache;
        }
        finally
        {
            foreach (var t in tokens.Concat(labels)) t.Dispose();
        }
    }

    /// <summary>
    /// The training batches of epoch-shuffled examples, deterministic for <paramref name="seed"/> and resumable from a
    /// position: full batches only, a new permutation each epoch.
    /// </summary>
    public IEnumerable<(Tensor tokens, Tensor labels, LoaderPosition next)> Batches(int batchSize, int seed, LoaderPosition start)
    {
        int perEpoch = Count / batchSize;
        if (perEpoch == 0) throw new ArgumentException($"the token cache holds {Count} examples, fewer than one batch of {batchSize}");
        for (int epoch = start.Epoch; ; epoch++)
        {
            // Outlives the caller's per-step dispose scopes (the iterator resumes inside them).
            using var order = randperm(Count, generator: new Generator((ulong)Seeds.Mix(seed, epoch))).DetachFromDisposeScope();
            for (int b = epoch == start.Epoch ? start.Batch : 0; b < perEpoch; b++)
            {
                var idx = order.narrow(0, (long)b * batchSize, batchSize);
                var next = b + 1 < perEpoch ? new LoaderPosition(epoch, b + 1) : new LoaderPosition(epoch + 1, 0);
                yield return (Tokens.index_select(0, idx), Labels.index_select(0, idx), next);
            }
        }
    }

    public void Dispose()
    {
        Tokens.Dispose();
        Labels.Dispose();
    }
}
