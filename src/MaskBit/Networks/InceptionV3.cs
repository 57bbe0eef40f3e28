using MaskBit.Interop;
using static TorchSharp.torch.nn;

namespace MaskBit.Networks;

/// <summary>
/// What <see cref="InceptionV3"/> returns for a batch of B images (the original's feature dict, fidelity 7.1).
/// Every tensor is float64 except <see cref="F768"/>, which the original casts to float32.
/// </summary>
/// <param name="F64">[B, 64] average-pooled after MaxPool_1.</param>
/// <param name="F192">[B, 192] average-pooled after MaxPool_2.</param>
/// <param name="F768">[B, 768] average-pooled after Mixed_6e (float32, as the original).</param>
/// <param name="F2048">[B, 2048] average-pooled Mixed_7c: the FID features (pool_3).</param>
/// <param name="LogitsUnbiased">[B, 1008] <c>F2048 @ fc.weight^T</c>: the Inception Score logits.</param>
/// <param name="Logits">[B, 1008] <c>LogitsUnbiased + fc.bias</c>.</param>
public sealed record InceptionFeatures(Tensor F64, Tensor F192, Tensor F768, Tensor F2048, Tensor LogitsUnbiased, Tensor Logits) : IDisposable
{
    public void Dispose()
    {
        F64.Dispose(); F192.Dispose(); F768.Dispose(); F2048.Dispose(); LogitsUnbiased.Dispose(); Logits.Dispose();
    }
}

/// <summary>
/// The FID InceptionV3 of the original's <c>metrics/inception.py</c> (torch-fidelity's FeatureExtractorInceptionV3 with
/// float64 inside): the TensorFlow "2015-12-05" Inception graph as ported by pytorch-fid, weights
/// <c>pt_inception-2015-12-05-6726825d.pth</c> (1008-way fc). Field names are the original's attribute names, so the
/// weight file loads strictly. Input: uint8 images [B, 3, H, W] of any size (see <see cref="ToUint8"/>).
/// </summary>
public sealed class InceptionV3 : Module<Tensor, InceptionFeatures>
{
    /// <summary>The weight file the user supplies (pytorch-fid release "fid_weights").</summary>
    public const string WeightFileName = "pt_inception-2015-12-05-6726825d.pth";
    public const int InputSize = 299;

#pragma warning disable IDE1006 // state-dict keys are the original's attribute names
    readonly BasicConv2d Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3;
    readonly InceptionA Mixed_5b, Mixed_5c, Mixed_5d;
    readonly InceptionB Mixed_6a;
    readonly InceptionC Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e;
    readonly InceptionD Mixed_7a;
    readonly InceptionE Mixed_7b, Mixed_7c;
    readonly Linear fc;
#pragma warning restore IDE1006

    /// <summary>Builds the network with PyTorch's default initialisation, in float64 (load weights before use).</summary>
    public InceptionV3() : base(nameof(InceptionV3))
    {
        Conv2d_1a_3x3 = new BasicConv2d(3, 32, (3, 3), stride: 2);
        Conv2d_2a_3x3 = new BasicConv2d(32, 32, (3, 3));
        Conv2d_2b_3x3 = new BasicConv2d(32, 64, (3, 3), padding: (1, 1));
        Conv2d_3b_1x1 = new BasicConv2d(64, 80, (1, 1));
        Conv2d_4a_3x3 = new BasicConv2d(80, 192, (3, 3));
        Mixed_5b = new InceptionA(192, 32);
        Mixed_5c = new InceptionA(256, 64);
        Mixed_5d = new InceptionA(288, 64);
        Mixed_6a = new InceptionB(288);
        Mixed_6b = new InceptionC(768, 128);
        Mixed_6c = new InceptionC(768, 160);
        Mixed_6d = new InceptionC(768, 160);
        Mixed_6e = new InceptionC(768, 192);
        Mixed_7a = new InceptionD(768);
        Mixed_7b = new InceptionE(1280, maxPoolBranch: false);
        Mixed_7c = new InceptionE(2048, maxPoolBranch: true);
        fc = Linear(2048, 1008);
        RegisterComponents();
        this.to(float64);
        eval();
    }

    /// <summary>
    /// Loads <c>pt_inception-2015-12-05-6726825d.pth</c> strictly (as the original) and returns the frozen extractor in
    /// float64, eval mode, on <paramref name="device"/>.
    /// </summary>
    public static InceptionV3 Load(string path, Device? device = null)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Inception weights not found: {path} (download {WeightFileName} from the pytorch-fid GitHub release 'fid_weights' and pass it with --inception)", path);
        var model = new InceptionV3();
        Checkpoint.LoadInto(model, path);
        model.Freeze();
        if (device is not null) model.to(device);
        return model;
    }

    /// <summary>
    /// The evaluator's <c>(images * 255).to(uint8)</c>: float images in [0, 1] -> uint8 by truncation, not rounding
    /// (kept for fidelity: an image read as k/255 in float32 can come back as k - epsilon and become k - 1).
    /// </summary>
    public static Tensor ToUint8(Tensor images)
    {
        using var scaled = images.mul(Const(255));
        return scaled.to(uint8);
    }

    /// <summary>uint8 [B, 3, H, W] -> the six feature tensors (see <see cref="InceptionFeatures"/>).</summary>
    public override InceptionFeatures forward(Tensor images)
    {
        if (images.dtype != uint8 || images.ndim != 4 || images.shape[1] != 3)
            throw new ArgumentException($"Inception expects uint8 images [B, 3, H, W], got {images.dtype} [{string.Join(", ", images.shape)}]");
        using var scope = NewDisposeScope();
        var dtype = fc.weight!.dtype;
        var x = ResizeBilinearTensorFlow1(images.to(dtype), InputSize, InputSize);
        x = x.sub(Const(128)).div(Const(128)); // the graph multiplies by 0.0078125; in float64 both are exact
        x = Conv2d_1a_3x3.call(x);      // [B, 32, 149, 149]
        x = Conv2d_2a_3x3.call(x);      // [B, 32, 147, 147]
        x = Conv2d_2b_3x3.call(x);      // [B, 64, 147, 147]
        x = F.max_pool2d(x, 3, 2);      // [B, 64, 73, 73]
        var f64 = Pool(x);
        x = Conv2d_3b_1x1.call(x);      // [B, 80, 73, 73]
        x = Conv2d_4a_3x3.call(x);      // [B, 192, 71, 71]
        x = F.max_pool2d(x, 3, 2);      // [B, 192, 35, 35]
        var f192 = Pool(x);
        x = Mixed_5b.call(x);           // [B, 256, 35, 35]
        x = Mixed_5c.call(x);           // [B, 288, 35, 35]
        x = Mixed_5d.call(x);           // [B, 288, 35, 35]
        x = Mixed_6a.call(x);           // [B, 768, 17, 17]
        x = Mixed_6b.call(x);
        x = Mixed_6c.call(x);
        x = Mixed_6d.call(x);
        x = Mixed_6e.call(x);           // [B, 768, 17, 17]
        var f768 = Pool(x).to(float32); // the original casts only this one to float32
        x = Mixed_7a.call(x);           // [B, 1280, 8, 8]
        x = Mixed_7b.call(x);           // [B, 2048, 8, 8]
        x = Mixed_7c.call(x);           // [B, 2048, 8, 8]
        var f2048 = Pool(x);            // [B, 2048]
        var unbiased = f2048.mm(fc.weight!.T); // [B, 1008]
        var logits = unbiased.add(fc.bias!.unsqueeze(0), One);
        var result = new InceptionFeatures(f64, f192, f768, f2048, unbiased, logits);
        foreach (var t in new[] { f64, f192, f768, f2048, unbiased, logits }) t.MoveToOuterDisposeScope();
        return result;
    }

    // [B, C, H, W] -> [B, C]
    static Tensor Pool(Tensor x) => F.adaptive_avg_pool2d(x, 1).flatten(1);

    /// <summary>
    /// TensorFlow 1.x <c>resize_bilinear</c> (align_corners False, no half-pixel centres), as torch-fidelity's
    /// "slow" path: source coordinate of output index o is <c>o * scale</c> with scale = in/out first rounded to
    /// float32 (as the original passes it through a float32 tensor), lo = floor, hi = min(lo + 1, in - 1),
    /// interpolated along x, then along y, in the input's dtype. [B, C, H, W] -> [B, C, outH, outW].
    /// </summary>
    public static Tensor ResizeBilinearTensorFlow1(Tensor x, long outH, long outW)
    {
        using var scope = NewDisposeScope();
        var (xLo, xHi, dx) = Grid(x.shape[3], outW, x);
        var (yLo, yHi, dy) = Grid(x.shape[2], outH, x);
        var top = x.index_select(2, yLo);
        var bottom = x.index_select(2, yHi);
        Tensor Lerp(Tensor rows)
        {
            var a = rows.index_select(3, xLo);
            var b = rows.index_select(3, xHi);
            return a.add((b - a) * dx.view(1, 1, 1, outW), One);
        }
        var t = Lerp(top);
        var u = Lerp(bottom);
        return t.add((u - t) * dy.view(1, 1, outH, 1), One).MoveToOuterDisposeScope();
    }

    static (Tensor lo, Tensor hi, Tensor frac) Grid(long inSize, long outSize, Tensor like)
    {
        double scale = (float)((double)inSize / outSize);
        using var stop = outSize.ToScalar();
        using var scaleScalar = scale.ToScalar();
        using var last = (inSize - 1).ToScalar();
        var coord = arange(Const(0), stop, One, like.dtype, like.device).mul(scaleScalar);
        var lo = coord.to(int64); // truncation == floor for coordinates >= 0
        var hi = lo.add(Const(1), One).clamp_max(last);
        return (lo, hi, coord - lo.to(like.dtype));
    }

    /// <summary>Conv (no bias) + BatchNorm (eps 0.001, eval) + ReLU; keys <c>conv.weight</c>, <c>bn.*</c>.</summary>
    sealed class BasicConv2d : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly Conv2d conv;
        readonly BatchNorm2d bn;
#pragma warning restore IDE1006

        public BasicConv2d(long inChannels, long outChannels, (long, long) kernel, long stride = 1, (long, long)? padding = null)
            : base(nameof(BasicConv2d))
        {
            conv = Conv2d(inChannels, outChannels, kernel, stride: (stride, stride), padding: padding ?? (0, 0), bias: false);
            bn = new BatchNorm2d(outChannels, eps: 0.001);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var c = conv.call(x);
            using var b = bn.call(c);
            return F.relu(b);
        }
    }

    // TF-compat average pool: padded zeros are not counted in the mean.
    static Tensor AvgPool3x3(Tensor x) => F.avg_pool2d(x, 3, stride: 1, padding: 1, count_include_pad: false);

    /// <summary>Mixed_5b/5c/5d: [B, Cin, 35, 35] -> [B, 224 + pool_features, 35, 35].</summary>
    sealed class InceptionA : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly BasicConv2d branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branch_pool;
#pragma warning restore IDE1006

        public InceptionA(long inChannels, long poolFeatures) : base(nameof(InceptionA))
        {
            branch1x1 = new BasicConv2d(inChannels, 64, (1, 1));
            branch5x5_1 = new BasicConv2d(inChannels, 48, (1, 1));
            branch5x5_2 = new BasicConv2d(48, 64, (5, 5), padding: (2, 2));
            branch3x3dbl_1 = new BasicConv2d(inChannels, 64, (1, 1));
            branch3x3dbl_2 = new BasicConv2d(64, 96, (3, 3), padding: (1, 1));
            branch3x3dbl_3 = new BasicConv2d(96, 96, (3, 3), padding: (1, 1));
            branch_pool = new BasicConv2d(inChannels, poolFeatures, (1, 1));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var a = branch1x1.call(x);
            var b = branch5x5_2.call(branch5x5_1.call(x));
            var c = branch3x3dbl_3.call(branch3x3dbl_2.call(branch3x3dbl_1.call(x)));
            var d = branch_pool.call(AvgPool3x3(x));
            return cat([a, b, c, d], 1).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Mixed_6a: [B, 288, 35, 35] -> [B, 768, 17, 17].</summary>
    sealed class InceptionB : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly BasicConv2d branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3;
#pragma warning restore IDE1006

        public InceptionB(long inChannels) : base(nameof(InceptionB))
        {
            branch3x3 = new BasicConv2d(inChannels, 384, (3, 3), stride: 2);
            branch3x3dbl_1 = new BasicConv2d(inChannels, 64, (1, 1));
            branch3x3dbl_2 = new BasicConv2d(64, 96, (3, 3), padding: (1, 1));
            branch3x3dbl_3 = new BasicConv2d(96, 96, (3, 3), stride: 2);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var a = branch3x3.call(x);
            var b = branch3x3dbl_3.call(branch3x3dbl_2.call(branch3x3dbl_1.call(x)));
            var c = F.max_pool2d(x, 3, 2);
            return cat([a, b, c], 1).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Mixed_6b..6e (c7 = 128/160/160/192): [B, 768, 17, 17] -> [B, 768, 17, 17].</summary>
    sealed class InceptionC : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly BasicConv2d branch1x1, branch7x7_1, branch7x7_2, branch7x7_3,
            branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool;
#pragma warning restore IDE1006

        public InceptionC(long inChannels, long c7) : base(nameof(InceptionC))
        {
            branch1x1 = new BasicConv2d(inChannels, 192, (1, 1));
            branch7x7_1 = new BasicConv2d(inChannels, c7, (1, 1));
            branch7x7_2 = new BasicConv2d(c7, c7, (1, 7), padding: (0, 3));
            branch7x7_3 = new BasicConv2d(c7, 192, (7, 1), padding: (3, 0));
            branch7x7dbl_1 = new BasicConv2d(inChannels, c7, (1, 1));
            branch7x7dbl_2 = new BasicConv2d(c7, c7, (7, 1), padding: (3, 0));
            branch7x7dbl_3 = new BasicConv2d(c7, c7, (1, 7), padding: (0, 3));
            branch7x7dbl_4 = new BasicConv2d(c7, c7, (7, 1), padding: (3, 0));
            branch7x7dbl_5 = new BasicConv2d(c7, 192, (1, 7), padding: (0, 3));
            branch_pool = new BasicConv2d(inChannels, 192, (1, 1));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var a = branch1x1.call(x);
            var b = branch7x7_3.call(branch7x7_2.call(branch7x7_1.call(x)));
            var c = branch7x7dbl_5.call(branch7x7dbl_4.call(branch7x7dbl_3.call(branch7x7dbl_2.call(branch7x7dbl_1.call(x)))));
            var d = branch_pool.call(AvgPool3x3(x));
            return cat([a, b, c, d], 1).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Mixed_7a: [B, 768, 17, 17] -> [B, 1280, 8, 8].</summary>
    sealed class InceptionD : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly BasicConv2d branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4;
#pragma warning restore IDE1006

        public InceptionD(long inChannels) : base(nameof(InceptionD))
        {
            branch3x3_1 = new BasicConv2d(inChannels, 192, (1, 1));
            branch3x3_2 = new BasicConv2d(192, 320, (3, 3), stride: 2);
            branch7x7x3_1 = new BasicConv2d(inChannels, 192, (1, 1));
            branch7x7x3_2 = new BasicConv2d(192, 192, (1, 7), padding: (0, 3));
            branch7x7x3_3 = new BasicConv2d(192, 192, (7, 1), padding: (3, 0));
            branch7x7x3_4 = new BasicConv2d(192, 192, (3, 3), stride: 2);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var a = branch3x3_2.call(branch3x3_1.call(x));
            var b = branch7x7x3_4.call(branch7x7x3_3.call(branch7x7x3_2.call(branch7x7x3_1.call(x))));
            var c = F.max_pool2d(x, 3, 2);
            return cat([a, b, c], 1).MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// Mixed_7b (InceptionE_1) and Mixed_7c (InceptionE_2): [B, Cin, 8, 8] -> [B, 2048, 8, 8]. The two differ only in
    /// the pool branch: the TF graph's Mixed_7c uses a 3x3 max pool (stride 1, pad 1) where Mixed_7b averages.
    /// </summary>
    sealed class InceptionE : Module<Tensor, Tensor>
    {
        readonly bool _maxPool;
#pragma warning disable IDE1006
        readonly BasicConv2d branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b,
            branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branch_pool;
#pragma warning restore IDE1006

        public InceptionE(long inChannels, bool maxPoolBranch) : base(nameof(InceptionE))
        {
            _maxPool = maxPoolBranch;
            branch1x1 = new BasicConv2d(inChannels, 320, (1, 1));
            branch3x3_1 = new BasicConv2d(inChannels, 384, (1, 1));
            branch3x3_2a = new BasicConv2d(384, 384, (1, 3), padding: (0, 1));
            branch3x3_2b = new BasicConv2d(384, 384, (3, 1), padding: (1, 0));
            branch3x3dbl_1 = new BasicConv2d(inChannels, 448, (1, 1));
            branch3x3dbl_2 = new BasicConv2d(448, 384, (3, 3), padding: (1, 1));
            branch3x3dbl_3a = new BasicConv2d(384, 384, (1, 3), padding: (0, 1));
            branch3x3dbl_3b = new BasicConv2d(384, 384, (3, 1), padding: (1, 0));
            branch_pool = new BasicConv2d(inChannels, 192, (1, 1));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var a = branch1x1.call(x);
            var b1 = branch3x3_1.call(x);
            var b = cat([branch3x3_2a.call(b1), branch3x3_2b.call(b1)], 1);
            var c1 = branch3x3dbl_2.call(branch3x3dbl_1.call(x));
            var c = cat([branch3x3dbl_3a.call(c1), branch3x3dbl_3b.call(c1)], 1);
            var pooled = _maxPool ? F.max_pool2d(x, 3, stride: 1, padding: 1) : AvgPool3x3(x);
            var d = branch_pool.call(pooled);
            return cat([a, b, c, d], 1).MoveToOuterDisposeScope();
        }
    }
}
