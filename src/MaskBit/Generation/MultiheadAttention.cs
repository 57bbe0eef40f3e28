using MaskBit.Native;

namespace MaskBit.Generation;

/// <summary>
/// Batch-first self-attention with the parameter layout of <c>torch.nn.MultiheadAttention(D, heads, dropout,
/// bias=True, batch_first=True)</c>: q/k/v are rows [0:D], [D:2D], [2D:3D] of <c>in_proj_weight</c>/<c>in_proj_bias</c>,
/// the result goes through <c>out_proj</c>. No attention mask. TorchSharp's own MultiheadAttention is sequence-first
/// and names its parameters differently, hence this module.
/// </summary>
public sealed class MultiheadAttention : nn.Module<Tensor, Tensor>
{
    // Field names = the original attribute names (state-dict keys, in this order).
    Parameter in_proj_weight;
    Parameter in_proj_bias;
    readonly BlasLinear out_proj;

    readonly int _heads;
    readonly double _dropout;

    public MultiheadAttention(int embedDim, int heads, double dropout) : base(nameof(MultiheadAttention))
    {
        if (embedDim % heads != 0) throw new ArgumentException($"hidden_dim {embedDim} is not divisible by heads {heads}");
        _heads = heads;
        _dropout = dropout;
        in_proj_weight = new Parameter(torch.empty(3 * embedDim, embedDim));
        in_proj_bias = new Parameter(torch.zeros(3 * embedDim));
        out_proj = new BlasLinear(embedDim, embedDim);
        // PyTorch's _reset_parameters: xavier-uniform in_proj, zero biases (out_proj.weight is re-drawn by the model).
        nn.init.xavier_uniform_(in_proj_weight);
        nn.init.zeros_(out_proj.bias!);
        RegisterComponents();
    }

    /// <summary>x: [B, L, D] -> [B, L, D].</summary>
    public override Tensor forward(Tensor x) => Attend(x, needWeights: false).output;

    /// <summary>
    /// x: [B, L, D] -> (output [B, L, D], weights [B, L, L] averaged over heads, or null when not needed). As in
    /// PyTorch, the weights are the attention probabilities after dropout (training mode only).
    /// </summary>
    public (Tensor output, Tensor? weights) Attend(Tensor x, bool needWeights)
    {
        long b = x.shape[0], l = x.shape[1], d = x.shape[2];
        using var scope = NewDisposeScope();
        // [B, L, 3D] -> 3 x [B, heads, L, D/heads]
        var qkv = Blas.Linear(x, in_proj_weight, in_proj_bias).view(b, l, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);
        var (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        double p = training ? _dropout : 0.0;
        Tensor context;
        Tensor? weights = null;
        if (needWeights)
        {
            var probs = torch.matmul(q.div(Const(Math.Sqrt(d / _heads))), k.transpose(-2, -1)).softmax(-1);
            probs = F.dropout(probs, p, training);
            context = torch.matmul(probs, v);
            weights = probs.mean([1]);
        }
        else
        {
            context = F.scaled_dot_product_attention(q, k, v, p: p);
        }
        var output = out_proj.forward(context.transpose(1, 2).reshape(b, l, d));
        return (output.MoveToOuterDisposeScope(), weights?.MoveToOuterDisposeScope());
    }
}
