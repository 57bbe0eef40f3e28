using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Interop;

/// <summary>Reads and writes PyTorch (<c>torch.save</c> zip pickle) and safetensors state dicts.</summary>
public static class Checkpoint
{
    /// <summary>Reads a flat state dict (key -> tensor) from a <c>.bin</c>/<c>.pt</c>/<c>.pth</c>/<c>.ckpt</c> or <c>.safetensors</c> file.</summary>
    public static OrderedDictionary<string, Tensor> ReadStateDict(string path)
    {
        // Provisional implementation (PyBridge); replaced by the data-only reader.
        var d = TorchSharp.PyBridge.PyTorchUnpickler.UnpickleStateDict(path);
        var result = new OrderedDictionary<string, Tensor>();
        foreach (System.Collections.DictionaryEntry kv in d) result[(string)kv.Key] = (Tensor)kv.Value!;
        return result;
    }
}
