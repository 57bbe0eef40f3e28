using MaskBit.Data;
using MaskBit.Distributed;

namespace MaskBit.Training;

/// <summary>
/// What both training loops do to run as N processes of one job, each on its slice of every global batch
/// (<c>training.per_gpu_batch_size</c> rows per process, as the original): one seed, one starting state, and random
/// streams that are alike where the step draws for the whole batch and apart where a process draws for its own rows.
/// </summary>
public static class DataParallel
{
    /// <summary>The run's seed, rank 0's where the config has none (an unseeded run draws one per process).</summary>
    public static int SharedSeed(int? seed, ProcessGroup group)
    {
        int value = seed ?? Random.Shared.Next();
        if (seed is not null || !group.IsDistributed) return value;
        using var t = tensor(new long[] { value });
        group.Broadcast(t);
        return (int)t.item<long>();
    }

    /// <summary>Rank 0's parameters, buffers and EMA weights in every process (they start alike even where the
    /// initialisation or a loaded file could differ).</summary>
    public static void BroadcastState(ProcessGroup group, nn.Module model, Ema? ema)
    {
        if (!group.IsDistributed) return;
        group.Broadcast(model.parameters().Select(p => (Tensor)p).Concat(model.buffers()));
        if (ema is not null) group.Broadcast(ema.Shadows.Select(kv => kv.Value));
    }

    /// <summary>A seed for what each process draws for its own rows (dropout): rank 0 draws what a single process
    /// draws, the others their own stream.</summary>
    public static int RankSeed(int seed, ProcessGroup group, long step, long salt) =>
        group.Rank == 0 ? Seeds.Mix(seed, step, salt) : Seeds.Mix(seed, step, salt, group.Rank);

    /// <summary>
    /// Checks that every process holds the same weights (and EMA weights) bit for bit, as averaged gradients and equal
    /// optimizer steps keep them: a 64-bit FNV-1a hash of their bytes, compared through a sum over the processes. A
    /// process that drifted is an error naming the step, not a silent divergence.
    /// </summary>
    /// <param name="more">Further state to compare (the discriminator and its buffers).</param>
    public static void CheckInSync(ProcessGroup group, nn.Module model, Ema? ema, long step, IEnumerable<Tensor>? more = null)
    {
        if (!group.IsDistributed) return;
        ulong hash = 14695981039346656037UL;
        foreach (var t in model.parameters().Select(p => (Tensor)p).Concat(ema?.Shadows.Select(kv => kv.Value) ?? []).Concat(more ?? []))
        {
            using var host = t.detach().cpu().contiguous();
            foreach (byte b in host.bytes) hash = unchecked((hash ^ b) * 1099511628211UL);
        }
        double[] mine = [hash >> 32, hash & 0xFFFFFFFF], sum = [.. mine];
        group.AllReduceSum(sum);
        if (sum[0] != mine[0] * group.Size || sum[1] != mine[1] * group.Size)
            throw new InvalidOperationException($"step {step}: the weights of process {group.Rank} differ from another process's (data-parallel training drifted)");
    }

    public static string DescribeBatch(int perProcess, ProcessGroup group) =>
        group.IsDistributed ? $"{perProcess} x {group.Size} processes = {perProcess * group.Size}" : $"{perProcess}";
}
