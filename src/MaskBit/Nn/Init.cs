namespace MaskBit.Nn;

/// <summary>Small constructors and initialisers shared by the tokenizer, the discriminator and the generator.</summary>
public static class Init
{
    /// <summary>
    /// <c>nn.GroupNorm</c> with weight 1 and bias 0. TorchSharp 0.107 allocates GroupNorm's affine parameters with
    /// <c>torch.empty</c> and never initialises them (garbage/NaN outputs), so every GroupNorm goes through here.
    /// </summary>
    public static GroupNorm GroupNorm(long channels, double eps = 1e-6, long groups = 32)
    {
        if (channels % groups != 0)
            throw new ArgumentException($"GroupNorm: {channels} channels are not divisible by {groups} groups");
        var gn = nn.GroupNorm(groups, channels, eps, affine: true);
        using (no_grad())
        {
            gn.weight!.fill_(Const(1.0));
            gn.bias!.fill_(Const(0.0));
        }
        return gn;
    }

    /// <summary>PyTorch's default Conv2d/Linear initialisation: kaiming_uniform(a=sqrt(5)) and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias.</summary>
    public static void ResetConv(Tensor weight, Tensor? bias)
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (bias is not null)
        {
            long fanIn = weight.shape[1] * (weight.dim() > 2 ? weight.shape[2..].Aggregate(1L, (a, b) => a * b) : 1);
            var bound = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0;
            nn.init.uniform_(bias, -bound, bound);
        }
    }
}
