using TorchSharp.Utils;

namespace MaskBit.Generation;

/// <summary>
/// One transformer layer. The original keeps each layer as a <c>ModuleList([BertAttention, BertFeedForward])</c>,
/// so the children are named <c>0</c> and <c>1</c> (keys <c>transformer.layers.{l}.0.mha.*</c>, <c>.1.net.*</c>).
/// </summary>
public sealed class BertLayer : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "0")] internal readonly BertAttention attention;
    [ComponentName(Name = "1")] internal readonly BertFeedForward feedForward;

    public BertLayer(int dim, int heads, int mlpDim, double dropout, bool usePrenorm) : base(nameof(BertLayer))
    {
        attention = new BertAttention(dim, heads, dropout, usePrenorm);
        feedForward = new BertFeedForward(dim, mlpDim, dropout, usePrenorm);
        RegisterComponents();
    }

    /// <summary>x: [B, L, D] -> [B, L, D].</summary>
    public override Tensor forward(Tensor x) => Attend(x, needWeights: false).output;

    public (Tensor output, Tensor? weights) Attend(Tensor x, bool needWeights)
    {
        using var scope = NewDisposeScope();
        var (h, weights) = attention.Attend(x, needWeights);
        return (feedForward.forward(h).MoveToOuterDisposeScope(), weights?.MoveToOuterDisposeScope());
    }
}

/// <summary>The stack of <c>depth</c> bidirectional layers (modeling/bert.py <c>TransformerEncoder</c>).</summary>
public sealed class TransformerEncoder : nn.Module<Tensor, Tensor>
{
    internal readonly ModuleList<BertLayer> layers;

    public TransformerEncoder(int dim, int depth, int heads, int mlpDim, double dropout, bool usePrenorm) : base(nameof(TransformerEncoder))
    {
        layers = new ModuleList<BertLayer>();
        for (int l = 0; l < depth; l++) layers.Add(new BertLayer(dim, heads, mlpDim, dropout, usePrenorm));
        RegisterComponents();
    }

    /// <summary>x: [B, L, D] -> [B, L, D].</summary>
    public override Tensor forward(Tensor x) => Encode(x, needWeights: false).output;

    /// <summary>x: [B, L, D] -> (output, per-layer head-averaged attention weights [B, L, L] when requested, else empty).</summary>
    public (Tensor output, List<Tensor> weights) Encode(Tensor x, bool needWeights)
    {
        using var scope = NewDisposeScope();
        var all = new List<Tensor>();
        foreach (var layer in layers)
        {
            var (next, weights) = layer.Attend(x, needWeights);
            x = next;
            if (weights is not null) all.Add(weights.MoveToOuterDisposeScope());
        }
        return (x.MoveToOuterDisposeScope(), all);
    }
}
