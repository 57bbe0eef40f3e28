namespace MaskBit;

public static class ModuleExtensions
{
    /// <summary>PyTorch's <c>module.requires_grad_(False)</c> (TorchSharp 0.107 has no module-level call): freezes
    /// every parameter so no gradient is ever accumulated into it; gradients still flow through to the inputs.</summary>
    public static T Freeze<T>(this T module) where T : nn.Module
    {
        foreach (var p in module.parameters()) p.requires_grad = false;
        return module;
    }
}
