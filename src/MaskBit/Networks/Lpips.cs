using MaskBit.Interop;
using static TorchSharp.torch.nn;

namespace MaskBit.Networks;

/// <summary>
/// The original's LPIPS (<c>modeling/modules/lpips.py</c>, LPIPS v0.1 "vgg", fidelity 7.4): torchvision VGG16 features cut
/// into five slices (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3), the ScalingLayer, channel-normalised features,
/// squared differences, 1x1 "lin" convolutions and a spatial mean, summed over the five layers.
/// State-dict keys equal the original's: <c>scaling_layer.{shift,scale}</c>, <c>net.slice{1..5}.{i}.{weight,bias}</c>
/// (i = the index inside torchvision's <c>vgg16().features</c>), <c>lin{0..4}.model.1.weight</c>.
/// </summary>
public sealed class Lpips : Module<Tensor, Tensor, Tensor>
{
    /// <summary>The two weight files the user supplies.</summary>
    public const string VggFileName = "vgg16-397923af.pth", LinFileName = "vgg_lpips.pth";

    static readonly long[] Channels = [64, 128, 256, 512, 512];

#pragma warning disable IDE1006 // state-dict keys are the original's attribute names
    readonly ScalingLayer scaling_layer;
    readonly Vgg16Slices net;
    readonly NetLinLayer lin0, lin1, lin2, lin3, lin4;
#pragma warning restore IDE1006

    /// <summary>Builds the network with PyTorch's default initialisation (load weights before use), eval mode.</summary>
    public Lpips() : base(nameof(Lpips))
    {
        scaling_layer = new ScalingLayer();
        net = new Vgg16Slices();
        lin0 = new NetLinLayer(Channels[0]);
        lin1 = new NetLinLayer(Channels[1]);
        lin2 = new NetLinLayer(Channels[2]);
        lin3 = new NetLinLayer(Channels[3]);
        lin4 = new NetLinLayer(Channels[4]);
        RegisterComponents();
        eval();
    }

    /// <summary>
    /// Loads torchvision's VGG16 IMAGENET1K_V1 file (<c>features.{i}.*</c>; its <c>classifier.*</c> is not used) and
    /// the LPIPS lin weights (<c>lin{0..4}.model.1.weight</c>, the original's <c>pretrained/vgg_lpips.pth</c>); every
    /// parameter must come from one of the two. Returns the frozen module in eval mode on <paramref name="device"/>.
    /// </summary>
    public static Lpips Load(string vggPath, string linPath, Device? device = null)
    {
        foreach (var (path, what) in new[] { (vggPath, $"torchvision VGG16 IMAGENET1K_V1 weights ({VggFileName})"), (linPath, $"LPIPS v0.1 lin weights ({LinFileName})") })
            if (!File.Exists(path)) throw new FileNotFoundException($"LPIPS: {what} not found: {path}", path);
        var model = new Lpips();
        var merged = new OrderedDictionary<string, Tensor>();
        var vgg = Checkpoint.ReadStateDict(vggPath);
        var lin = Checkpoint.ReadStateDict(linPath);
        try
        {
            foreach (var (key, t) in vgg)
            {
                if (key.StartsWith("classifier.", StringComparison.Ordinal)) continue;
                merged[Vgg16Slices.KeyForTorchvision(key) ?? throw new CheckpointException($"{vggPath}: unexpected key {key} (expected torchvision vgg16 features.N.weight/bias)")] = t;
            }
            foreach (var (key, t) in lin)
            {
                if (!key.StartsWith("lin", StringComparison.Ordinal))
                    throw new CheckpointException($"{linPath}: unexpected key {key} (expected lin0..lin4.model.1.weight)");
                merged[key] = t;
            }
            // The scaling constants are buffers of the module, not stored in either file: keep ours.
            foreach (var key in new[] { "scaling_layer.shift", "scaling_layer.scale" })
                merged[key] = model.state_dict()[key];
            Checkpoint.LoadInto(model, merged, $"{vggPath} + {linPath}");
        }
        finally
        {
            foreach (var t in vgg.Values) t.Dispose();
            foreach (var t in lin.Values) t.Dispose();
        }
        model.Freeze();
        if (device is not null) model.to(device);
        return model;
    }

    /// <summary>
    /// input, target: [B, 3, H, W], expected in [-1, 1] (the ScalingLayer first maps [0, 1] to [-1, 1] again, so the
    /// original's evaluator, which passes [0, 1] images, measures on a compressed range: a quirk kept by its callers)
    /// -> [B, 1, 1, 1] distances.
    /// </summary>
    public override Tensor forward(Tensor input, Tensor target)
    {
        using var scope = NewDisposeScope();
        var f0 = net.call(scaling_layer.call(input));
        var f1 = net.call(scaling_layer.call(target));
        var lins = new[] { lin0, lin1, lin2, lin3, lin4 };
        Tensor? total = null;
        for (int k = 0; k < lins.Length; k++)
        {
            var diff = (Normalize(f0[k]) - Normalize(f1[k])).pow(Const(2));
            var d = lins[k].call(diff).mean([2, 3], keepdim: true); // [B, 1, 1, 1]
            total = total is null ? d : total.add(d, One);
        }
        return total!.MoveToOuterDisposeScope();
    }

    // Unit length over channels: x / (sqrt(sum_c x^2) + 1e-10).
    static Tensor Normalize(Tensor x) => x / x.pow(Const(2)).sum(1, keepdim: true).sqrt().add(Const(1e-10), One);

    /// <summary>Buffers <c>shift</c>, <c>scale</c> [1, 3, 1, 1]: x -> (2x - 1 - shift) / scale.</summary>
    sealed class ScalingLayer : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly Tensor shift, scale;
#pragma warning restore IDE1006

        public ScalingLayer() : base(nameof(ScalingLayer))
        {
            shift = tensor(new[] { -0.030f, -0.088f, -0.188f }).view(1, 3, 1, 1);
            scale = tensor(new[] { 0.458f, 0.448f, 0.450f }).view(1, 3, 1, 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scaled = x.mul(Const(2.0)).sub(Const(1.0));
            using var shifted = scaled - shift;
            return shifted / scale;
        }
    }

    /// <summary>Dropout (index 0, inactive in eval) then a bias-free 1x1 conv C -> 1 (index 1), through
    /// <see cref="TrainableConv2d"/>: as the tokenizer's perceptual loss, gradients flow back through this one-channel
    /// conv, a shape whose float32 input gradient the plain CPU kernel can get wrong (<see cref="ConvWorkaround"/>).</summary>
    sealed class NetLinLayer : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly Sequential model;
#pragma warning restore IDE1006

        public NetLinLayer(long channels) : base(nameof(NetLinLayer))
        {
            model = Sequential(("0", Dropout()), ("1", new TrainableConv2d(channels, 1, 1, bias: false)));
            RegisterComponents();
        }

        // [B, C, h, w] -> [B, 1, h, w]
        public override Tensor forward(Tensor x) => model.call(x);
    }

    /// <summary>torchvision <c>vgg16().features[0:30]</c> as five Sequentials keeping the torchvision indices.</summary>
    sealed class Vgg16Slices : Module<Tensor, Tensor[]>
    {
        // [start, end) indices of torchvision's features in each slice; a slice after the first opens with a max pool.
        static readonly (int start, int end)[] Bounds = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)];
        static readonly HashSet<int> PoolIndices = [4, 9, 16, 23];

#pragma warning disable IDE1006
        readonly Sequential slice1, slice2, slice3, slice4, slice5;
#pragma warning restore IDE1006

        public Vgg16Slices() : base(nameof(Vgg16Slices))
        {
            var slices = new Sequential[5];
            long inChannels = 3;
            for (int s = 0; s < 5; s++)
            {
                var layers = new List<(string, Module<Tensor, Tensor>)>();
                for (int i = Bounds[s].start; i < Bounds[s].end; i++)
                {
                    if (PoolIndices.Contains(i)) layers.Add((i.ToString(), MaxPool2d(2, 2)));
                    else if (IsConv(i))
                    {
                        layers.Add((i.ToString(), Conv2d(inChannels, Channels[s], 3, padding: 1)));
                        inChannels = Channels[s];
                    }
                    else layers.Add((i.ToString(), ReLU()));
                }
                slices[s] = Sequential(layers);
            }
            (slice1, slice2, slice3, slice4, slice5) = (slices[0], slices[1], slices[2], slices[3], slices[4]);
            RegisterComponents();
        }

        // Inside each slice, layers alternate conv, relu after the optional leading max pool.
        static bool IsConv(int i)
        {
            var (start, _) = Bounds.First(b => i >= b.start && i < b.end);
            int first = PoolIndices.Contains(start) ? start + 1 : start;
            return (i - first) % 2 == 0;
        }

        /// <summary><c>features.{i}.{weight|bias}</c> -> <c>net.slice{s}.{i}.{weight|bias}</c>, or null.</summary>
        public static string? KeyForTorchvision(string key)
        {
            var parts = key.Split('.');
            if (parts.Length != 3 || parts[0] != "features" || !int.TryParse(parts[1], out var i) || i < 0 || i >= 30) return null;
            int s = Array.FindIndex(Bounds, b => i >= b.start && i < b.end);
            return $"net.slice{s + 1}.{i}.{parts[2]}";
        }

        // [B, 3, H, W] -> relu1_2 [B, 64, H, W], relu2_2 [B, 128, H/2, W/2], ..., relu5_3 [B, 512, H/16, W/16]
        public override Tensor[] forward(Tensor x)
        {
            var outs = new Tensor[5];
            var h = x;
            var slices = new[] { slice1, slice2, slice3, slice4, slice5 };
            for (int s = 0; s < 5; s++) outs[s] = h = slices[s].call(h);
            return outs;
        }
    }
}
