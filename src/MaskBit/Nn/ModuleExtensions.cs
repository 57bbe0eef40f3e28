namespace MaskBit.Nn;

public static class ModuleExtensions
{
    /// <summary>PyTorch's <c>module.requires_grad_(False)</c> (TorchSharp 0.107 has no module-level call): freezes
    /// every parameter so no gradient is ever accumulated into it; gradients still flow through to the inputs.</summary>
    public static T Freeze<T>(this T module) where T : nn.Module
    {
        foreach (var p in module.parameters()) p.requires_grad = false;
        return module;
    }

    /// <summary>
    /// Runs one forward step in its own dispose scope and keeps only its result. PyTorch frees a layer's intermediate
    /// tensors as soon as nothing refers to them; TorchSharp keeps every tensor until its dispose scope ends, so without
    /// this a 256x256 decoder would hold all of its activations at once (gigabytes). Autograd keeps what backward needs
    /// on its own, so training is unaffected.
    /// </summary>
    public static Tensor Scoped(Func<Tensor> step)
    {
        using var scope = NewDisposeScope();
        return step().MoveToOuterDisposeScope();
    }
}
