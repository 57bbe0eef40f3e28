namespace MaskBit.Generation;

/// <summary>
/// The MaskBit generator (modeling/bert.py <c>LFQBert</c>, model_cls "lfq_bert"): an embedding-free bidirectional
/// transformer over bit tokens. Each position's input is the ±1 bits (LSB first) of its m split tokens, all 0 for a
/// masked split, projected by <c>input_proj</c>; the class token is appended LAST (position N) and dropped from the
/// output. Output: logits [B, N, m, E] (E = 2^(bits/m) classes per split; the mask token E is never predicted).
/// State-dict keys and order follow fidelity 4.3 (released files name <c>input_proj</c> <c>token_emb</c>: see
/// <see cref="ReleasedKeyRenames"/>).
/// </summary>
public sealed class LfqBert : MaskedGenerator
{
    // Field names = the original attribute names; declaration order = the original's registration order.
    Tensor bits_to_indices;
    readonly Embedding class_emb;
    readonly BlasLinear input_proj;
    Parameter pos_emb;
    readonly Sequential first_layer;
    readonly TransformerEncoder transformer;
    readonly LayerNorm? norm_after_transformer;
    readonly Sequential last_layer;
    readonly BlasLinear prediction_layer;

    /// <summary>
    /// Key prefix renames between this module and the released <c>.bin</c> files: load with
    /// <c>token_emb</c> -> <c>input_proj</c> (the original loaders' <c>rename_keys</c>); save with the reverse.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReleasedKeyRenames { get; } = new Dictionary<string, string> { ["token_emb"] = "input_proj" };

    public override IReadOnlyDictionary<string, string> FileKeyRenames => ReleasedKeyRenames;

    public LfqBert(int imgSize = 256, int hiddenDim = 768, int codebookSize = 1024, int codebookSplits = 1, int depth = 24,
        int heads = 8, int mlpDim = 3072, double dropout = 0.1, int nclass = 1000, int inputStride = 16, bool usePrenorm = false)
        : base(nameof(LfqBert), imgSize, codebookSize, codebookSplits, nclass, inputStride)
    {
        int bitsPerSplit = Factorization.BitsPerSplit(codebookSize, codebookSplits);
        bits_to_indices = torch.tensor(Enumerable.Range(0, bitsPerSplit).Select(c => 1 << c).ToArray()); // [eb] int32: 1, 2, 4, ...
        class_emb = nn.Embedding(nclass + 1, hiddenDim); // + 1: the "no class" row for dropped labels
        input_proj = new BlasLinear(Bits, hiddenDim);
        pos_emb = new Parameter(torch.zeros(1, SeqLen + 1, hiddenDim));
        first_layer = FirstLayer(hiddenDim, dropout);
        transformer = new TransformerEncoder(hiddenDim, depth, heads, mlpDim, dropout, usePrenorm);
        norm_after_transformer = usePrenorm ? nn.LayerNorm(hiddenDim, eps: 1e-12) : null;
        last_layer = LastLayer(hiddenDim);
        prediction_layer = new BlasLinear(hiddenDim, Splits * EffectiveCodebookSize);
        RegisterComponents();
        TruncNormal_(pos_emb, 0.0, 0.02);
        InitWeights();
    }

    /// <summary>
    /// The original's <c>preprocess_tokens</c>: tokens [B, N, m] -> bits [B, N, m*eb] in the model's dtype, ±1 LSB first
    /// per split (split 0 first), 0 for every bit of a masked split.
    /// </summary>
    public Tensor PreprocessTokens(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var masked = tokens.eq(Const(MaskToken)).unsqueeze(-1);                             // [B, N, m, 1]
        var bits = tokens.unsqueeze(-1).to_type(ScalarType.Int32).bitwise_and(bits_to_indices).ne(Const(0))
            .to_type(input_proj.weight.dtype).mul(Const(2)).sub(Const(1));                 // [B, N, m, eb]
        return bits.masked_fill(masked, Const(0)).flatten(2).MoveToOuterDisposeScope();
    }

    protected override (Tensor logits, List<Tensor> attention) Run(Tensor tokens, Tensor classLabels, Tensor dropLabelMask, bool needWeights)
    {
        CheckInputs(tokens, classLabels, dropLabelMask);
        using var scope = NewDisposeScope();
        long b = tokens.shape[0];
        var classEmbedding = class_emb.forward(ClassTokens(classLabels, dropLabelMask));         // [B, 1, D]
        var x = torch.cat([input_proj.forward(PreprocessTokens(tokens)), classEmbedding], 1).add(pos_emb, One); // [B, N+1, D]
        var (h, attention) = Trunk(x, first_layer, transformer, norm_after_transformer, last_layer, needWeights);
        var logits = prediction_layer.forward(h).view(b, SeqLen + 1, Splits, EffectiveCodebookSize)
            .narrow(1, 0, SeqLen);                                                               // [B, N, m, E]
        return (logits.MoveToOuterDisposeScope(), attention.Select(a => a.MoveToOuterDisposeScope()).ToList());
    }
}
