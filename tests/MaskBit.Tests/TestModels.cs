using System.Text.Json;
using MaskBit.Config;
using MaskBit.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests;

/// <summary>Builds models from a golden case's <c>config</c> section and fills them from its model.bin.</summary>
public static class TestModels
{
    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static VqModelConfig VqConfig(GoldenCase c) =>
        c.Json.GetProperty("config").GetProperty("model").GetProperty("vq_model").Deserialize<VqModelConfig>(Snake)!;

    /// <summary>
    /// The original's <c>OriginalVQModel</c> with the Encoder/Decoder widths of <c>config.taming_small</c> in place of
    /// its hard-coded ones (z_channels, codebook and embedding size stay the original's).
    /// </summary>
    public static TamingVqModel TamingModel(GoldenCase c)
    {
        var t = c.Json.GetProperty("config").GetProperty("taming_small");
        int[] Ints(string key) => t.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return new TamingVqModel(ch: t.GetProperty("ch").GetInt32(), chMult: Ints("ch_mult"),
            numResBlocks: t.GetProperty("num_res_blocks").GetInt32(), attnResolutions: Ints("attn_resolutions"),
            resolution: t.GetProperty("resolution").GetInt32());
    }

    /// <summary>Runs <paramref name="run"/> while capturing the outputs of the named submodules.</summary>
    public static Dictionary<string, Tensor> CaptureActivations(nn.Module model, IEnumerable<string> names, Action run)
    {
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        var captured = new Dictionary<string, Tensor>();
        var removers = new List<Action>();
        foreach (var name in names)
        {
            Assert.True(modules.ContainsKey(name), $"model has no submodule '{name}'");
            var m = (nn.Module<Tensor, Tensor>)modules[name];
            var handle = m.register_forward_hook((_, _, output) => { captured[name] = output.detach().clone().DetachFromDisposeScope(); return output; });
            removers.Add(handle.remove);
        }
        try { run(); }
        finally { foreach (var remove in removers) remove(); }
        // TorchSharp runs hooks only when a module is invoked through call(), not forward().
        var missed = names.Where(n => !captured.ContainsKey(n)).ToList();
        Assert.True(missed.Count == 0, $"the run never called (through call()) the submodules {string.Join(", ", missed)}");
        return captured;
    }
}
