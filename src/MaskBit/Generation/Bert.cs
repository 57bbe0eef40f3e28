namespace MaskBit.Generation;

/// <summary>
/// The embedding-table generator for classic-VQ tokenizers (modeling/bert.py <c>Bert</c>, model_cls "bert"; no
/// official config uses it). Input = sum over splits of <c>tok_emb_list.{i}</c> (E+1 rows, row E = mask), class
/// token appended last; output per split = hidden states times the split's first E embedding rows (weight tying)
/// plus a per-position bias <c>bias.{i}</c> [N, E]; logits [B, N, m, E].
/// </summary>
public sealed class Bert : MaskedGenerator
{
    // Field names = the original attribute names; declaration order = the original's registration order.
    readonly Embedding class_emb;
    readonly ModuleList<Embedding> tok_emb_list;
    Parameter pos_emb;
    readonly Sequential first_layer;
    readonly TransformerEncoder transformer;
    readonly LayerNorm? norm_after_transformer;
    readonly Sequential last_layer;
    readonly ParameterList bias;

    public Bert(int imgSize = 256, int hiddenDim = 768, int codebookSize = 1024, int codebookSplits = 1, int depth = 24,
        int heads = 8, int mlpDim = 3072, double dropout = 0.1, int nclass = 1000, int inputStride = 16, bool usePrenorm = false)
        : base(nameof(Bert), imgSize, codebookSize, codebookSplits, nclass, inputStride)
    {
        class_emb = nn.Embedding(nclass + 1, hiddenDim); // + 1: the "no class" row for dropped labels
        tok_emb_list = new ModuleList<Embedding>();
        for (int i = 0; i < Splits; i++) tok_emb_list.Add(nn.Embedding(EffectiveCodebookSize + 1, hiddenDim)); // + 1: mask token
        pos_emb = new Parameter(torch.zeros(1, SeqLen + 1, hiddenDim));
        first_layer = FirstLayer(hiddenDim, dropout);
        transformer = new TransformerEncoder(hiddenDim, depth, heads, mlpDim, dropout, usePrenorm);
        norm_after_transformer = usePrenorm ? nn.LayerNorm(hiddenDim, eps: 1e-12) : null;
        last_layer = LastLayer(hiddenDim);
        bias = new ParameterList(Enumerable.Range(0, Splits).Select(_ => new Parameter(torch.zeros(SeqLen, EffectiveCodebookSize))).ToArray());
        RegisterComponents();
        TruncNormal_(pos_emb, 0.0, 0.02);
        InitWeights();
    }

    protected override (Tensor logits, List<Tensor> attention) Run(Tensor tokens, Tensor classLabels, Tensor dropLabelMask, bool needWeights)
    {
        CheckInputs(tokens, classLabels, dropLabelMask);
        using var scope = NewDisposeScope();
        var tokenEmbedding = tok_emb_list[0].forward(tokens.select(2, 0));                   // [B, N, D]
        for (int i = 1; i < Splits; i++) tokenEmbedding = tokenEmbedding.add(tok_emb_list[i].forward(tokens.select(2, i)), One);
        var x = torch.cat([tokenEmbedding, class_emb.forward(ClassTokens(classLabels, dropLabelMask))], 1)
            .add(pos_emb, One);                                                              // [B, N+1, D]
        var (h, attention) = Trunk(x, first_layer, transformer, norm_after_transformer, last_layer, needWeights);
        h = h.narrow(1, 0, SeqLen);                                                          // [B, N, D]
        var logits = Enumerable.Range(0, Splits)
            .Select(i => torch.matmul(h, tok_emb_list[i].weight!.narrow(0, 0, EffectiveCodebookSize).t()).add(bias[i], One))
            .ToArray();                                                                      // m x [B, N, E]
        return (torch.stack(logits, 2).MoveToOuterDisposeScope(), attention.Select(a => a.MoveToOuterDisposeScope()).ToList());
    }
}
