using static TorchSharp.torch.nn;

namespace MaskBit.Networks;

/// <summary>
/// torchvision's ResNet-50 (v1.5: the stride sits on the 3x3 conv of a bottleneck), the network of the original's
/// perceptual loss. Field names are torchvision's, so <c>resnet50-0676ba61.pth</c> (IMAGENET1K_V1) loads strictly:
/// <c>conv1</c>, <c>bn1</c>, <c>layer1..layer4</c> (<c>{i}.conv1..conv3</c>, <c>bn1..bn3</c>, <c>downsample.{0,1}</c>), <c>fc</c>.
/// </summary>
public sealed class ResNet50 : Module<Tensor, Tensor>
{
    /// <summary>The weight file the user supplies (torchvision ResNet50_Weights.IMAGENET1K_V1).</summary>
    public const string WeightFileName = "resnet50-0676ba61.pth";

#pragma warning disable IDE1006 // state-dict keys are torchvision's attribute names
    readonly TrainableConv2d conv1;
    readonly BatchNorm2d bn1;
    readonly Sequential layer1, layer2, layer3, layer4;
    readonly Linear fc;
#pragma warning restore IDE1006

    public ResNet50(long numClasses = 1000) : base(nameof(ResNet50))
    {
        conv1 = new TrainableConv2d(3, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = new BatchNorm2d(64);
        long inplanes = 64;
        Sequential Layer(long planes, int blocks, long stride)
        {
            var list = new List<(string, Module<Tensor, Tensor>)>();
            for (int i = 0; i < blocks; i++)
            {
                list.Add((i.ToString(), new Bottleneck(inplanes, planes, i == 0 ? stride : 1)));
                inplanes = planes * Bottleneck.Expansion;
            }
            return Sequential(list);
        }
        layer1 = Layer(64, 3, 1);
        layer2 = Layer(128, 4, 2);
        layer3 = Layer(256, 6, 2);
        layer4 = Layer(512, 3, 2);
        fc = Linear(2048, numClasses);
        RegisterComponents();
    }

    /// <summary>[B, 3, H, W] (ImageNet-normalised) -> logits [B, 1000].</summary>
    public override Tensor forward(Tensor x) => Features(x).logits;

    /// <summary>[B, 3, H, W] -> (layer4 output [B, 2048, H/32, W/32], fc logits [B, 1000]).</summary>
    public (Tensor layer4, Tensor logits) Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = F.relu(bn1.call(conv1.call(x)));
        x = F.max_pool2d(x, 3, stride: 2, padding: 1);
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));
        var logits = fc.call(F.adaptive_avg_pool2d(x, 1).flatten(1));
        return (x.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }

    /// <summary>1x1 reduce, 3x3 (stride), 1x1 expand x4, residual (projected by <c>downsample</c> when the shape changes).</summary>
    sealed class Bottleneck : Module<Tensor, Tensor>
    {
        public const long Expansion = 4;

#pragma warning disable IDE1006
        readonly TrainableConv2d conv1, conv2, conv3;
        readonly BatchNorm2d bn1, bn2, bn3;
        readonly Sequential? downsample;
#pragma warning restore IDE1006

        public Bottleneck(long inplanes, long planes, long stride) : base(nameof(Bottleneck))
        {
            conv1 = new TrainableConv2d(inplanes, planes, 1, bias: false);
            bn1 = new BatchNorm2d(planes);
            conv2 = new TrainableConv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
            bn2 = new BatchNorm2d(planes);
            conv3 = new TrainableConv2d(planes, planes * Expansion, 1, bias: false);
            bn3 = new BatchNorm2d(planes * Expansion);
            if (stride != 1 || inplanes != planes * Expansion)
                downsample = Sequential(("0", new TrainableConv2d(inplanes, planes * Expansion, 1, stride: stride, bias: false)), ("1", new BatchNorm2d(planes * Expansion)));
            RegisterComponents();
        }

        // [B, Cin, H, W] -> [B, 4 planes, H/stride, W/stride]
        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = F.relu(bn1.call(conv1.call(x)));
            h = F.relu(bn2.call(conv2.call(h)));
            h = bn3.call(conv3.call(h));
            var identity = downsample is null ? x : downsample.call(x);
            return F.relu(h.add(identity, One)).MoveToOuterDisposeScope();
        }
    }
}
