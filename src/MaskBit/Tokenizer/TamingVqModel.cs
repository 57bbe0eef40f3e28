using static TorchSharp.torch.nn;

namespace MaskBit.Tokenizer;

/// <summary>
/// The original Taming-Transformers VQGAN f16/1024 (the original's <c>OriginalVQModel</c>, fidelity 1.7; eval only).
/// The official config ignores every model key: the defaults below are the hard-coded architecture
/// (ch 128, ch_mult 1,1,2,2,4, 2 res blocks, resolution 256, attention at 16x16, z 256, codebook 1024x256).
/// The Encoder/Decoder arguments can be narrowed (the golden Taming case: ch 32, ch_mult 1,2, 1 res block,
/// resolution 32) without changing the key names. Images are rescaled to [-1,1] inside <see cref="Encode"/> and
/// back to [0,1] in <see cref="Decode"/>.
/// </summary>
public sealed class TamingVqModel : Module<Tensor, (Tensor decoded, QuantizerResult result)>, ITokenizer
{
    readonly TamingEncoder encoder;
    readonly TamingDecoder decoder;
    readonly SimpleVectorizer quantize;
    readonly Conv2d quant_conv;
    readonly Conv2d post_quant_conv;
    readonly int _factor;

    public TamingVqModel(int ch = 128, int[]? chMult = null, int numResBlocks = 2, int[]? attnResolutions = null,
        int resolution = 256, int zChannels = 256, int codebookSize = 1024, int embedDim = 256) : base(nameof(TamingVqModel))
    {
        chMult ??= [1, 1, 2, 2, 4];
        attnResolutions ??= [16];
        encoder = new TamingEncoder(ch, chMult, numResBlocks, attnResolutions, resolution, zChannels);
        decoder = new TamingDecoder(ch, chMult, numResBlocks, attnResolutions, resolution, zChannels);
        quantize = new SimpleVectorizer(codebookSize, embedDim, commitmentCost: 0.25);
        quant_conv = Conv2d(zChannels, embedDim, 1);
        post_quant_conv = Conv2d(embedDim, zChannels, 1);
        _factor = 1 << (chMult.Length - 1);
        RegisterComponents();
    }

    public Quantizer Quantize => quantize;
    public int DownsamplingFactor => _factor;

    // x: [B, 3, H, W] in [0,1] -> [B, embed_dim, H/f, W/f]. Submodules run through call() so that forward hooks see them.
    public QuantizerResult Encode(Tensor x) =>
        quantize.call(quant_conv.call(encoder.call(x.mul(Const(2.0)).sub(Const(1.0)))));

    // z: [B, embed_dim, h, w] -> [B, 3, f*h, f*w] in ~[0,1] (unclamped)
    public Tensor Decode(Tensor z) => decoder.call(post_quant_conv.call(z)).add(Const(1.0), One).div(Const(2.0));

    public override (Tensor decoded, QuantizerResult result) forward(Tensor x) => ((ITokenizer)this).Reconstruct(x);

    static Conv2d Conv3(long cin, long cout) => Conv2d(cin, cout, 3, padding: 1);

    /// <summary>Taming ResnetBlock: the correct residual (<c>nin_shortcut</c> 1x1 in->out applied to x).</summary>
    sealed class ResnetBlock : Module<Tensor, Tensor>
    {
        readonly GroupNorm norm1;
        readonly Conv2d conv1;
        readonly GroupNorm norm2;
        readonly Conv2d conv2;
        readonly Conv2d? nin_shortcut;

        public ResnetBlock(long cin, long cout) : base(nameof(ResnetBlock))
        {
            norm1 = Init.GroupNorm(cin);
            conv1 = Conv3(cin, cout);
            norm2 = Init.GroupNorm(cout);
            conv2 = Conv3(cout, cout);
            if (cin != cout) nin_shortcut = Conv2d(cin, cout, 1);
            RegisterComponents();
        }

        // x: [B, Cin, H, W] -> [B, Cout, H, W]  (dropout is 0 in the Taming config)
        public override Tensor forward(Tensor x)
        {
            var h = conv1.forward(F.silu(norm1.forward(x)));
            h = conv2.forward(F.silu(norm2.forward(h)));
            return (nin_shortcut?.forward(x) ?? x).add(h, One);
        }
    }

    /// <summary>Single-head spatial self-attention with 1x1 conv projections, scale c^-1/2.</summary>
    sealed class AttnBlock : Module<Tensor, Tensor>
    {
        readonly GroupNorm norm;
        readonly Conv2d q, k, v, proj_out;

        public AttnBlock(long c) : base(nameof(AttnBlock))
        {
            norm = Init.GroupNorm(c);
            q = Conv2d(c, c, 1); k = Conv2d(c, c, 1); v = Conv2d(c, c, 1); proj_out = Conv2d(c, c, 1);
            RegisterComponents();
        }

        // x: [B, C, H, W] -> [B, C, H, W]
        public override Tensor forward(Tensor x)
        {
            var h = norm.forward(x);
            long b = x.shape[0], c = x.shape[1], hh = x.shape[2], ww = x.shape[3];
            var qq = q.forward(h).reshape(b, c, hh * ww).permute(0, 2, 1); // [B, HW, C]
            var kk = k.forward(h).reshape(b, c, hh * ww);                  // [B, C, HW]
            var w = bmm(qq, kk).mul(Const(Math.Pow(c, -0.5))).softmax(2);  // [B, HWq, HWk]
            var vv = v.forward(h).reshape(b, c, hh * ww);
            var o = bmm(vv, w.permute(0, 2, 1)).reshape(b, c, hh, ww);
            return x.add(proj_out.forward(o), One);
        }
    }

    /// <summary>Resampling conv under the field name <c>conv</c> (keys <c>downsample.conv.*</c>, <c>upsample.conv.*</c>).</summary>
    sealed class Resample : Module<Tensor, Tensor>
    {
        readonly Conv2d conv;
        readonly bool _down;

        public Resample(long c, bool down) : base(nameof(Resample))
        {
            _down = down;
            conv = down ? Conv2d(c, c, 3, stride: 2) : Conv3(c, c);
            RegisterComponents();
        }

        // down: pad right/bottom by 1 then 3x3 stride 2 ([B,C,H,W] -> [B,C,H/2,W/2]); up: nearest x2 then 3x3.
        public override Tensor forward(Tensor x) => _down
            ? conv.forward(F.pad(x, [0, 1, 0, 1]))
            : conv.forward(F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest));
    }

    /// <summary>One resolution level: <c>block</c>, <c>attn</c> (may be empty), optional <c>downsample</c>/<c>upsample</c>.</summary>
    sealed class Level : Module<Tensor, Tensor>
    {
        readonly ModuleList<ResnetBlock> block = new();
        readonly ModuleList<AttnBlock> attn = new();
        readonly Resample? downsample;
        readonly Resample? upsample;

        public Level(long cin, long cout, int blocks, bool withAttn, bool? down) : base(nameof(Level))
        {
            for (int i = 0; i < blocks; i++)
            {
                block.Add(new ResnetBlock(i == 0 ? cin : cout, cout));
                if (withAttn) attn.Add(new AttnBlock(cout));
            }
            if (down == true) downsample = new Resample(cout, down: true);
            if (down == false) upsample = new Resample(cout, down: false);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            for (int i = 0; i < block.Count; i++)
            {
                x = block[i].forward(x);
                if (attn.Count > 0) x = attn[i].forward(x);
            }
            return downsample?.forward(x) ?? upsample?.forward(x) ?? x;
        }
    }

    /// <summary>Mid block: <c>block_1</c>, <c>attn_1</c>, <c>block_2</c>.</summary>
    sealed class Mid : Module<Tensor, Tensor>
    {
        readonly ResnetBlock block_1;
        readonly AttnBlock attn_1;
        readonly ResnetBlock block_2;

        public Mid(long c) : base(nameof(Mid))
        {
            block_1 = new ResnetBlock(c, c); attn_1 = new AttnBlock(c); block_2 = new ResnetBlock(c, c);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => block_2.forward(attn_1.forward(block_1.forward(x)));
    }

    sealed class TamingEncoder : Module<Tensor, Tensor>
    {
        readonly Conv2d conv_in;
        readonly ModuleList<Level> down = new();
        readonly Mid mid;
        readonly GroupNorm norm_out;
        readonly Conv2d conv_out;

        public TamingEncoder(int ch, int[] chMult, int numResBlocks, int[] attnRes, int resolution, int zChannels) : base(nameof(TamingEncoder))
        {
            conv_in = Conv3(3, ch);
            int res = resolution;
            var inMult = new[] { 1 }.Concat(chMult).ToArray();
            for (int i = 0; i < chMult.Length; i++)
            {
                bool last = i == chMult.Length - 1;
                down.Add(new Level(ch * inMult[i], ch * chMult[i], numResBlocks, attnRes.Contains(res), last ? null : true));
                if (!last) res /= 2;
            }
            long c = ch * chMult[^1];
            mid = new Mid(c);
            norm_out = Init.GroupNorm(c);
            conv_out = Conv3(c, zChannels);
            RegisterComponents();
        }

        // x: [B, 3, H, W] in [-1,1] -> [B, z, H/f, W/f]
        public override Tensor forward(Tensor x)
        {
            x = conv_in.forward(x);
            foreach (var level in down) x = level.forward(x);
            return conv_out.forward(F.silu(norm_out.forward(mid.forward(x))));
        }
    }

    sealed class TamingDecoder : Module<Tensor, Tensor>
    {
        readonly Conv2d conv_in;
        readonly Mid mid;
        readonly ModuleList<Level> up = new();
        readonly GroupNorm norm_out;
        readonly Conv2d conv_out;

        public TamingDecoder(int ch, int[] chMult, int numResBlocks, int[] attnRes, int resolution, int zChannels) : base(nameof(TamingDecoder))
        {
            int levels = chMult.Length;
            long blockIn = ch * chMult[^1];
            int res = resolution >> (levels - 1);
            conv_in = Conv3(zChannels, blockIn);
            mid = new Mid(blockIn);
            // Built from the lowest resolution up, stored by level index (up.0 = full resolution), as the original.
            var levelsBuilt = new Level[levels];
            for (int i = levels - 1; i >= 0; i--)
            {
                levelsBuilt[i] = new Level(blockIn, ch * chMult[i], numResBlocks + 1, attnRes.Contains(res), i != 0 ? false : null);
                blockIn = ch * chMult[i];
                if (i != 0) res *= 2;
            }
            foreach (var l in levelsBuilt) up.Add(l);
            norm_out = Init.GroupNorm(blockIn);
            conv_out = Conv3(blockIn, 3);
            RegisterComponents();
        }

        // z: [B, z, h, w] -> [B, 3, f*h, f*w] in ~[-1,1]
        public override Tensor forward(Tensor z)
        {
            var h = mid.forward(conv_in.forward(z));
            for (int i = up.Count - 1; i >= 0; i--) h = up[i].forward(h);
            return conv_out.forward(F.silu(norm_out.forward(h)));
        }
    }
}
