using MaskBit.Interop;
using static TorchSharp.torch.nn;

namespace MaskBit.Networks;

/// <summary>
/// The ImageNet-trained ResNet-18 of NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> 0.23.1 (a CNTK
/// export, MIT), rebuilt as a differentiable TorchSharp network from the initializers of its <c>ResNet18.onnx</c>, with
/// the mean image of <c>ResNetPreprocess.onnx</c>. It computes what the two ONNX graphs compute, which is not
/// torchvision's ResNet-18: blocks [2, 2, 2, 3] (the last stage has three), 1x1 stride-2 projection shortcuts, no conv
/// bias, BatchNorm eps 1e-5, and CNTK's asymmetric padding: the 7x7/2 stem pads 3 rows/columns top/left and 2
/// bottom/right, the 3x3/2 max pool and the stride-2 3x3 convolutions pad 1 top/left and 0 bottom/right. The output is
/// the 512-d average of the last 7x7 map (the graph has no classifier). Input: BGR pixel values 0..255 minus the
/// per-pixel mean image, 224x224 (<see cref="Preprocess"/>). Frozen and in eval mode; gradients flow to the input.
/// </summary>
public sealed class ResNet18Cntk : Module<Tensor, Tensor>
{
    public const int Size = 224;
    public const int FeatureDim = 512;
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
    public const string PackageVersion = "0.23.1";
    public const string ModelFileName = "ResNet18.onnx";
    public const string PreprocessFileName = "ResNetPreprocess.onnx";

#pragma warning disable IDE1006 // state-dict keys follow torchvision's ResNet naming
    readonly Tensor mean_image; // [1, 3, 224, 224], BGR order (the preprocess graph's MeanImage)
    readonly TrainableConv2d conv1;
    readonly BatchNorm2d bn1;
    readonly Sequential layer1, layer2, layer3, layer4;
#pragma warning restore IDE1006

    /// <summary>The architecture with untrained weights and a zero mean image; <see cref="Load"/> fills both.</summary>
    public ResNet18Cntk() : base(nameof(ResNet18Cntk))
    {
        mean_image = zeros(1, 3, Size, Size);
        conv1 = new TrainableConv2d(3, 64, 7, stride: 2, padding: 3, bias: false, paddingEnd: 2);
        bn1 = new BatchNorm2d(64, eps: 1e-5);
        long inplanes = 64;
        Sequential Layer(long planes, int blocks, long stride)
        {
            var list = new List<(string, Module<Tensor, Tensor>)>();
            for (int i = 0; i < blocks; i++)
            {
                list.Add((i.ToString(), new BasicBlock(inplanes, planes, i == 0 ? stride : 1)));
                inplanes = planes;
            }
            return Sequential(list);
        }
        layer1 = Layer(64, 2, 1);
        layer2 = Layer(128, 2, 2);
        layer3 = Layer(256, 2, 2);
        layer4 = Layer(512, 3, 2);
        RegisterComponents();
        this.Freeze();
        eval(); // BatchNorm with the running statistics, as the exported inference graph
    }

    /// <summary>
    /// Where the model is looked for when no path is given: the package's file in the NuGet cache
    /// (<c>$NUGET_PACKAGES</c>, then <c>~/.nuget/packages</c>). The project's build restores it there.
    /// </summary>
    public static IReadOnlyList<string> DefaultPaths()
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env) roots.Add(env);
        roots.Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"));
        return roots.Select(r => Path.Combine(r, PackageId.ToLowerInvariant(), PackageVersion, "tools", "DnnImageModels", "ResNet18Onnx", ModelFileName)).ToList();
    }

    /// <summary>The model file: <paramref name="modelPath"/> when given (it must exist), else the first of
    /// <see cref="DefaultPaths"/> that exists, else null.</summary>
    public static string? Find(string? modelPath = null)
    {
        if (modelPath is not null)
            return File.Exists(modelPath) ? Path.GetFullPath(modelPath) : throw new FileNotFoundException($"{ModelFileName}: {modelPath} does not exist", modelPath);
        return DefaultPaths().FirstOrDefault(File.Exists);
    }

    /// <summary>Why the network is unavailable: where it was looked for and how to get it.</summary>
    public static string MissingMessage =>
        $"{ModelFileName} not found in {string.Join(" or ", DefaultPaths())}: restore NuGet package {PackageId} {PackageVersion} " +
        $"(the MaskBit project's build does; elsewhere add <PackageDownload Include=\"{PackageId}\" Version=\"[{PackageVersion}]\" />) or pass the file's path";

    /// <summary>
    /// Reads <c>ResNet18.onnx</c> (<paramref name="modelPath"/>, else the NuGet cache) and its <c>ResNetPreprocess.onnx</c>
    /// (<c>../ResNetPrepOnnx/</c> as the package lays them out, or the same folder) into a frozen network.
    /// </summary>
    public static ResNet18Cntk Load(string? modelPath = null, Device? device = null)
    {
        var path = Find(modelPath) ?? throw new FileNotFoundException(MissingMessage);
        var dir = Path.GetDirectoryName(path)!;
        string[] prepCandidates = [Path.GetFullPath(Path.Combine(dir, "..", "ResNetPrepOnnx", PreprocessFileName)), Path.Combine(dir, PreprocessFileName)];
        var prepPath = prepCandidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"{PreprocessFileName} (the mean image that goes with {path}) not found in {string.Join(" or ", prepCandidates)}");
        var net = new ResNet18Cntk();
        using (var prep = OnnxInitializers.Read(prepPath)) net.LoadPreprocess(prep);
        using (var graph = OnnxInitializers.Read(path)) net.LoadGraph(graph);
        if (device is not null) net.to(device);
        return net;
    }

    /// <summary>The graph's <c>MeanImage</c> [1, 3, 224, 224] (subtracted after the RGB -> BGR swap).</summary>
    internal void LoadPreprocess(OnnxGraph prep)
    {
        using var _ = no_grad();
        mean_image.copy_(prep.Get("MeanImage", 1, 3, Size, Size));
    }

    /// <summary>
    /// Copies the weights in the graph's order, checking the layer order on the way: every Conv node (kernel, stride,
    /// pads, weight shape) must be the next convolution of this network, and the BatchNormalization that consumes its
    /// output supplies the BatchNorm's scale, bias, mean and variance. The graph lists a block's projection shortcut
    /// before its two 3x3 convolutions.
    /// </summary>
    internal void LoadGraph(OnnxGraph graph)
    {
        var expected = new List<(TrainableConv2d conv, BatchNorm2d bn, long[] shape, long[] strides, long[] pads)>
        {
            (conv1, bn1, [64, 3, 7, 7], [2, 2], [3, 3, 2, 2]), // ONNX pads: top, left, bottom, right
        };
        foreach (var layer in new[] { layer1, layer2, layer3, layer4 })
            foreach (var block in layer.children().Cast<BasicBlock>())
                expected.AddRange(block.Convs());
        var bnOf = graph.Nodes.Where(n => n.OpType == "BatchNormalization").ToDictionary(n => n.Inputs[0]);
        var convs = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        if (convs.Count != expected.Count)
            throw new InvalidDataException($"{graph.Path}: {convs.Count} Conv nodes, expected {expected.Count} (a CNTK ResNet-18 with blocks [2, 2, 2, 3])");
        using var _ = no_grad();
        for (int i = 0; i < convs.Count; i++)
        {
            var (node, (conv, bn, shape, strides, pads)) = (convs[i], expected[i]);
            var got = (node.Ints.GetValueOrDefault("strides", [1, 1]), node.Ints.GetValueOrDefault("pads", [0, 0, 0, 0]));
            if (!got.Item1.SequenceEqual(strides) || !got.Item2.SequenceEqual(pads))
                throw new InvalidDataException($"{graph.Path}: Conv node {i} ({node.Outputs[0]}) has strides [{string.Join(", ", got.Item1)}] pads [{string.Join(", ", got.Item2)}], expected strides [{string.Join(", ", strides)}] pads [{string.Join(", ", pads)}]");
            conv.get_parameter("weight")!.copy_(graph.Get(node.Inputs[1], shape));
            if (!bnOf.TryGetValue(node.Outputs[0], out var bnNode))
                throw new InvalidDataException($"{graph.Path}: no BatchNormalization follows Conv node {i} ({node.Outputs[0]})");
            long c = shape[0];
            bn.weight!.copy_(graph.Get(bnNode.Inputs[1], c));
            bn.bias!.copy_(graph.Get(bnNode.Inputs[2], c));
            bn.running_mean!.copy_(graph.Get(bnNode.Inputs[3], c));
            bn.running_var!.copy_(graph.Get(bnNode.Inputs[4], c));
        }
    }

    /// <summary>
    /// RGB images in [0, 1], [B, 3, H, W] -> the network input [B, 3, 224, 224]: resized to 224x224 (antialiased
    /// bilinear, skipped at 224) as the ResNet-50 perceptual loss does, scaled to 0..255, channels reversed to BGR, minus
    /// the mean image — what <c>ResNetPreprocess.onnx</c> does to 0..255 RGB input.
    /// </summary>
    public Tensor Preprocess(Tensor images)
    {
        if (images.ndim != 4 || images.shape[1] != 3)
            throw new ArgumentException($"ResNet18Cntk: expected RGB images [B, 3, H, W], got [{string.Join(", ", images.shape)}]");
        using var scope = NewDisposeScope();
        var x = images.shape[2] == Size && images.shape[3] == Size ? images : Resize.Antialiased(images, Size);
        var bgr = x.flip(1).mul(Const(255.0));
        return (bgr - mean_image).MoveToOuterDisposeScope();
    }

    /// <summary>Preprocessed input [B, 3, 224, 224] -> 512-d pooled features [B, 512] (the ONNX graph's output).</summary>
    public override Tensor forward(Tensor x) => Features(x).pooled;

    /// <summary>The device the network's weights are on.</summary>
    public Device Device => mean_image.device;

    /// <summary>RGB images in [0, 1], [B, 3, H, W] -> pooled features [B, 512].</summary>
    public Tensor Embed(Tensor images)
    {
        using var scope = NewDisposeScope();
        return forward(Preprocess(images)).MoveToOuterDisposeScope();
    }

    /// <summary>Preprocessed input [B, 3, 224, 224] -> (last stage, the graph's ReLU393 [B, 512, 7, 7]; its mean [B, 512]).</summary>
    public (Tensor layer4, Tensor pooled) Features(Tensor x)
    {
        if (x.ndim != 4 || x.shape[1] != 3 || x.shape[2] != Size || x.shape[3] != Size)
            throw new ArgumentException($"ResNet18Cntk: expected preprocessed input [B, 3, {Size}, {Size}], got [{string.Join(", ", x.shape)}]");
        using var scope = NewDisposeScope();
        x = F.relu(bn1.call(conv1.call(x)));                      // [B, 64, 112, 112] (ReLU253)
        // Max pool 3x3/2 padding only top/left (CNTK): -inf never wins a max, as ONNX's pads behave.
        x = F.max_pool2d(F.pad(x, [1, 0, 1, 0], value: double.NegativeInfinity), 3, stride: 2); // [B, 64, 56, 56]
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));  // 56 -> 56 -> 28 -> 14 -> [B, 512, 7, 7]
        var pooled = x.mean([2, 3]);                                 // AveragePool 7x7 at 7x7: [B, 512]
        return (x.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }

    /// <summary>Two 3x3 convolutions (the first strided, CNTK-padded), residual through a 1x1 stride-2 projection when
    /// the shape changes.</summary>
    sealed class BasicBlock : Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        readonly TrainableConv2d conv1, conv2;
        readonly BatchNorm2d bn1, bn2;
        readonly Sequential? downsample;
#pragma warning restore IDE1006
        readonly long _inplanes, _planes, _stride;

        public BasicBlock(long inplanes, long planes, long stride) : base(nameof(BasicBlock))
        {
            (_inplanes, _planes, _stride) = (inplanes, planes, stride);
            // Stride 2: CNTK pads 1 top/left, 0 bottom/right (56 -> 57 -> 28); stride 1: 1 on every side.
            conv1 = new TrainableConv2d(inplanes, planes, 3, stride: stride, padding: 1, bias: false, paddingEnd: stride == 1 ? 1 : 0);
            bn1 = new BatchNorm2d(planes, eps: 1e-5);
            conv2 = new TrainableConv2d(planes, planes, 3, padding: 1, bias: false);
            bn2 = new BatchNorm2d(planes, eps: 1e-5);
            if (stride != 1 || inplanes != planes)
                downsample = Sequential(("0", new TrainableConv2d(inplanes, planes, 1, stride: stride, bias: false)), ("1", new BatchNorm2d(planes, eps: 1e-5)));
            RegisterComponents();
        }

        /// <summary>The block's convolutions in the ONNX graph's order (projection first), with their expected
        /// weight shape, strides and pads (top, left, bottom, right).</summary>
        public IEnumerable<(TrainableConv2d, BatchNorm2d, long[], long[], long[])> Convs()
        {
            if (downsample is not null)
                yield return ((TrainableConv2d)downsample[0], (BatchNorm2d)downsample[1], [_planes, _inplanes, 1, 1], [_stride, _stride], [0, 0, 0, 0]);
            yield return (conv1, bn1, [_planes, _inplanes, 3, 3], [_stride, _stride], _stride == 1 ? [1, 1, 1, 1] : [1, 1, 0, 0]);
            yield return (conv2, bn2, [_planes, _planes, 3, 3], [1, 1], [1, 1, 1, 1]);
        }

        // [B, Cin, H, W] -> [B, planes, H/stride, W/stride]
        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = F.relu(bn1.call(conv1.call(x)));
            h = bn2.call(conv2.call(h));
            var identity = downsample is null ? x : downsample.call(x);
            return F.relu(h.add(identity, One)).MoveToOuterDisposeScope();
        }
    }
}
