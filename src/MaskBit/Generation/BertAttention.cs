namespace MaskBit.Generation;

/// <summary>
/// Attention block of the generator (modeling/bert.py <c>BertAttention</c>). Post-norm (every config):
/// <c>LN(x + Dropout(MHA(x)))</c>; pre-norm: <c>x + Dropout(MHA(LN(x)))</c>. LayerNorm eps 1e-12.
/// </summary>
public sealed class BertAttention : nn.Module<Tensor, Tensor>
{
    readonly MultiheadAttention mha;
    readonly Dropout dropout;
    readonly LayerNorm norm;
    readonly bool _usePrenorm;

    public BertAttention(int embedDim, int heads, double dropout, bool usePrenorm) : base(nameof(BertAttention))
    {
        mha = new MultiheadAttention(embedDim, heads, dropout);
        this.dropout = nn.Dropout(dropout);
        norm = nn.LayerNorm(embedDim, eps: 1e-12);
        _usePrenorm = usePrenorm;
        RegisterComponents();
    }

    /// <summary>x: [B, L, D] -> [B, L, D].</summary>
    public override Tensor forward(Tensor x) => Attend(x, needWeights: false).output;

    /// <summary>x: [B, L, D] -> (output [B, L, D], head-averaged attention weights [B, L, L] when requested).</summary>
    public (Tensor output, Tensor? weights) Attend(Tensor x, bool needWeights)
    {
        using var scope = NewDisposeScope();
        var (value, weights) = mha.Attend(_usePrenorm ? norm.forward(x) : x, needWeights);
        var output = dropout.forward(value).add(x, One);
        if (!_usePrenorm) output = norm.forward(output);
        return (output.MoveToOuterDisposeScope(), weights?.MoveToOuterDisposeScope());
    }
}
