using MaskBit.Config;
using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>
/// VQGAN+ / MaskBit tokenizer (the original's <c>ConvVQModel</c>, fidelity 1.1): <c>encoder</c>, <c>decoder</c>,
/// <c>quantize</c> registered in that order (it fixes the state-dict order). <c>model_class: maskgit</c> is the
/// same model with the legacy decoder indexing (<c>legacy</c>).
/// </summary>
public sealed class ConvVqModel : Module<Tensor, (Tensor decoded, QuantizerResult result)>, ITokenizer
{
    readonly ConvEncoder encoder;
    readonly ConvDecoder decoder;
    readonly Quantizer quantize;
    readonly int _factor;

    public ConvVqModel(VqModelConfig config, bool legacy = false) : base(nameof(ConvVqModel))
    {
        Config = config;
        encoder = new ConvEncoder(config);
        decoder = new ConvDecoder(config, legacy);
        quantize = config.QuantizerType switch
        {
            "lookup-free" => new LookupFreeQuantizer(config.TokenSize, config.CommitmentCost, config.EntropyLossWeight,
                config.EntropyLossTemperature, config.EntropyGamma),
            "lookup" => new SimpleVectorizer(config.CodebookSize, config.TokenSize, config.CommitmentCost,
                config.EntropyLossWeight, config.EntropyLossTemperature, config.EntropyGamma, config.UseL2Normalisation),
            // The original's factory *returns* a NotImplementedError object for "vae": fail loudly instead.
            "vae" => throw new NotSupportedException("vq_model.quantizer_type 'vae' is not implemented (nor is it in the original)"),
            _ => throw new ArgumentException($"vq_model.quantizer_type must be 'lookup-free' or 'lookup', got '{config.QuantizerType}'"),
        };
        _factor = 1 << (config.NumResolutions - 1);
        RegisterComponents();
        if (config.FinetuneDecoder)
            foreach (var p in encoder.parameters()) p.requires_grad = false;
    }

    public VqModelConfig Config { get; }
    public ConvEncoder Encoder => encoder;
    public ConvDecoder Decoder => decoder;
    public Quantizer Quantize => quantize;
    public int DownsamplingFactor => _factor;

    // x: [B, 3, H, W] -> [B, T, H/f, W/f]. Submodules run through call() so that forward hooks see them.
    public QuantizerResult Encode(Tensor x)
    {
        if (!Config.FinetuneDecoder) return quantize.call(encoder.call(x));
        // finetune_decoder: the encoder is frozen and in eval mode, encoder + quantizer run without a graph, and the
        // quantizer's losses are multiplied by 0 (kept, so the logged terms exist and read 0), as the original does.
        using var _ = no_grad();
        encoder.eval();
        var r = quantize.call(encoder.call(x));
        return r with
        {
            QuantizerLoss = r.QuantizerLoss.mul(Const(0)), CommitmentLoss = r.CommitmentLoss.mul(Const(0)),
            EntropyLoss = r.EntropyLoss.mul(Const(0)), CodebookLoss = r.CodebookLoss?.mul(Const(0)),
        };
    }

    // z: [B, T, h, w] -> [B, 3, h*f, w*f]
    public Tensor Decode(Tensor z) => decoder.call(z);

    // x: [B, 3, H, W] -> (reconstruction [B, 3, H, W] unclamped, quantizer result)
    public override (Tensor decoded, QuantizerResult result) forward(Tensor x) => ((ITokenizer)this).Reconstruct(x);
}
