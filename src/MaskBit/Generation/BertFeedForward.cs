namespace MaskBit.Generation;

/// <summary>
/// Feed-forward block of the generator (modeling/bert.py <c>BertFeedForward</c>): <c>net</c> = Linear, GELU (erf),
/// Linear, Dropout (dropout only after the second Linear). Post-norm: <c>LN(x + net(x))</c>; pre-norm:
/// <c>x + net(LN(x))</c>.
/// </summary>
public sealed class BertFeedForward : nn.Module<Tensor, Tensor>
{
    readonly Sequential net;
    readonly LayerNorm norm;
    readonly bool _usePrenorm;

    public BertFeedForward(int dim, int hiddenDim, double dropout, bool usePrenorm) : base(nameof(BertFeedForward))
    {
        net = nn.Sequential(new BlasLinear(dim, hiddenDim), nn.GELU(), new BlasLinear(hiddenDim, dim), nn.Dropout(dropout));
        norm = nn.LayerNorm(dim, eps: 1e-12);
        _usePrenorm = usePrenorm;
        RegisterComponents();
    }

    /// <summary>x: [B, L, D] -> [B, L, D].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var output = _usePrenorm ? net.forward(norm.forward(x)).add(x, One) : norm.forward(net.forward(x).add(x, One));
        return output.MoveToOuterDisposeScope();
    }
}
