using MaskBit.Interop;
using static TorchSharp.torch;

namespace MaskBit.Tests.Training;

/// <summary>Compares the state files of two training checkpoints tensor by tensor (the exact-resume tests).</summary>
static class CheckpointComparison
{
    /// <summary>Every tensor of the given state files of a checkpoint folder, keyed "file:key" (allocated in the caller's scope).</summary>
    public static Dictionary<string, Tensor> Read(string checkpoint, params string[] files) =>
        files.SelectMany(f => Checkpoint.ReadStateDict(Path.Combine(checkpoint, f)).Select(kv => KeyValuePair.Create($"{f}:{kv.Key}", kv.Value)))
            .ToDictionary();

    /// <summary>Asserts both checkpoints hold the same keys and bit-identical tensors in those files; returns the keys.</summary>
    public static IReadOnlyCollection<string> AssertBitIdentical(string a, string b, params string[] files)
    {
        var x = Read(a, files);
        var y = Read(b, files);
        Assert.Equal(x.Keys.Order(), y.Keys.Order());
        foreach (var (k, t) in x) Assert.True(t.equal(y[k]).all().item<bool>(), $"{k} differs after resume");
        return x.Keys;
    }
}
