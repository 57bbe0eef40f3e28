using System.Numerics;

namespace MaskBit.Generation;

/// <summary>
/// What the sampler and the training loop need from a Stage-II generator (<see cref="LfqBert"/>, <see cref="Bert"/>):
/// forward(split tokens [B, N, m] int64 with mask token E, class labels [B] int64, drop-label mask [B] bool)
/// -> logits [B, N, m, E], and the vocabulary facts derived from the constructor arguments.
/// Unlike the original, forward never writes into the caller's label tensor and always needs a drop mask
/// (the original's <c>drop_label_mask=None</c> silently drops every label).
/// </summary>
public abstract class MaskedGenerator : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    /// <summary>Token positions: (img_size / input_stride)^2.</summary>
    public int SeqLen { get; }
    /// <summary><c>codebook_splits</c> (m).</summary>
    public int Splits { get; }
    /// <summary>floor(log2(codebook_size)).</summary>
    public int Bits { get; }
    /// <summary>Classes per split E = 2^(bits / splits); also the mask token id.</summary>
    public int EffectiveCodebookSize { get; }
    public int MaskToken => EffectiveCodebookSize;
    /// <summary>Number of classes; row <see cref="DropLabel"/> = nclass of <c>class_emb</c> is "no class".</summary>
    public int NClass { get; }
    public int DropLabel => NClass;

    /// <summary>Key prefix renames from this generator's files to its modules (applied when loading): the released
    /// files' naming where it differs from the field names. None unless a subclass has such a naming.</summary>
    public virtual IReadOnlyDictionary<string, string>? FileKeyRenames => null;

    /// <summary>The reverse of <see cref="FileKeyRenames"/>, applied when saving, so files keep the released naming.</summary>
    public IReadOnlyDictionary<string, string>? SavingKeyRenames => FileKeyRenames?.ToDictionary(kv => kv.Value, kv => kv.Key);

    protected MaskedGenerator(string name, int imgSize, int codebookSize, int codebookSplits, int nclass, int inputStride) : base(name)
    {
        if (imgSize % inputStride != 0) throw new ArgumentException($"img_size {imgSize} is not a multiple of input_stride {inputStride}");
        SeqLen = (imgSize / inputStride) * (imgSize / inputStride);
        Splits = codebookSplits;
        Bits = BitOperations.Log2((uint)codebookSize);
        EffectiveCodebookSize = 1 << Factorization.BitsPerSplit(codebookSize, codebookSplits);
        NClass = nclass;
    }

    /// <summary>tokens [B, N, m], labels [B], dropLabelMask [B] bool -> logits [B, N, m, E].</summary>
    public override Tensor forward(Tensor tokens, Tensor classLabels, Tensor dropLabelMask) =>
        Run(tokens, classLabels, dropLabelMask, needWeights: false).logits;

    /// <summary>The original's <c>return_attn=True</c>: logits and, per layer, the head-averaged attention [B, N+1, N+1].</summary>
    public (Tensor logits, List<Tensor> attention) ForwardWithAttention(Tensor tokens, Tensor classLabels, Tensor dropLabelMask) =>
        Run(tokens, classLabels, dropLabelMask, needWeights: true);

    protected abstract (Tensor logits, List<Tensor> attention) Run(Tensor tokens, Tensor classLabels, Tensor dropLabelMask, bool needWeights);

    protected void CheckInputs(Tensor tokens, Tensor classLabels, Tensor dropLabelMask)
    {
        if (tokens.dim() != 3 || tokens.shape[1] != SeqLen || tokens.shape[2] != Splits)
            throw new ArgumentException($"generator tokens must be [B, {SeqLen}, {Splits}], got [{string.Join(", ", tokens.shape)}]");
        if (classLabels.numel() != tokens.shape[0] || dropLabelMask.numel() != tokens.shape[0])
            throw new ArgumentException($"need one class label and one drop flag per sample ({tokens.shape[0]}), got {classLabels.numel()} and {dropLabelMask.numel()}");
    }

    /// <summary>labels [B], drop [B] -> [B, 1] with dropped entries replaced by the "no class" row (not in place).</summary>
    protected Tensor ClassTokens(Tensor classLabels, Tensor dropLabelMask) =>
        classLabels.reshape(-1, 1).masked_fill(dropLabelMask.to_type(ScalarType.Bool).reshape(-1, 1), Const(DropLabel));

    /// <summary><c>first_layer</c>: LayerNorm(D, 1e-12) then Dropout.</summary>
    protected static Sequential FirstLayer(int hiddenDim, double dropout) =>
        nn.Sequential(nn.LayerNorm(hiddenDim, eps: 1e-12), nn.Dropout(dropout));

    /// <summary><c>last_layer</c>: Linear(D, D), GELU (erf), LayerNorm(D, 1e-12).</summary>
    protected static Sequential LastLayer(int hiddenDim) =>
        nn.Sequential(new BlasLinear(hiddenDim, hiddenDim), nn.GELU(), nn.LayerNorm(hiddenDim, eps: 1e-12));

    /// <summary>The shared trunk: x [B, N+1, D] (embeddings + pos_emb) -> [B, N+1, D] after last_layer.</summary>
    protected static (Tensor output, List<Tensor> attention) Trunk(Tensor x, Sequential firstLayer, TransformerEncoder transformer,
        LayerNorm? normAfterTransformer, Sequential lastLayer, bool needWeights)
    {
        using var scope = NewDisposeScope();
        var (h, attention) = transformer.Encode(firstLayer.forward(x), needWeights);
        if (normAfterTransformer is not null) h = normAfterTransformer.forward(h);
        return (lastLayer.forward(h).MoveToOuterDisposeScope(), attention.Select(a => a.MoveToOuterDisposeScope()).ToList());
    }

    /// <summary>
    /// The original's <c>_init_weights</c>: every Linear (attention out_proj included) and Embedding weight
    /// ~ trunc_normal(0, 0.02) with PyTorch's absolute cut-offs ±2, Linear biases 0, LayerNorm 1 / 0. The attention
    /// in_proj keeps its xavier-uniform init.
    /// </summary>
    protected void InitWeights()
    {
        foreach (var module in modules())
        {
            switch (module)
            {
                case BlasLinear linear:
                    TruncNormal_(linear.weight, 0.0, 0.02);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
                case Embedding embedding:
                    TruncNormal_(embedding.weight!, 0.0, 0.02);
                    break;
                case LayerNorm layerNorm:
                    nn.init.ones_(layerNorm.weight!);
                    nn.init.zeros_(layerNorm.bias!);
                    break;
            }
        }
    }

    /// <summary>
    /// PyTorch's <c>trunc_normal_(tensor, mean, std, a, b)</c> (inverse-CDF method, absolute cut-offs). TorchSharp
    /// 0.107's <c>nn.init.trunc_normal_</c> is broken (it fills every element with the same value), hence this.
    /// </summary>
    internal static void TruncNormal_(Tensor tensor, double mean, double std, double a = -2.0, double b = 2.0)
    {
        static double NormalCdf(double x) => (1 + Erf(x / Math.Sqrt(2))) / 2;
        double lower = NormalCdf((a - mean) / std), upper = NormalCdf((b - mean) / std);
        using var noGrad = torch.no_grad();
        tensor.uniform_(2 * lower - 1, 2 * upper - 1).erfinv_().mul_(Const(std * Math.Sqrt(2))).add_(Const(mean), One)
            .clamp_(Const(a), Const(b));
    }

    // System.Math has no erf: use torch's, in double precision.
    static double Erf(double x)
    {
        using var t = torch.tensor(x, ScalarType.Float64);
        using var e = t.erf();
        return e.item<double>();
    }
}
