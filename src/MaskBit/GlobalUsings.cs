// Namespaces every model file of the library uses.
global using TorchSharp;
global using TorchSharp.Modules;
global using static TorchSharp.torch;
global using F = TorchSharp.torch.nn.functional;
global using MaskBit.Nn;
global using static MaskBit.Nn.Scalars;
// The library's own forms of these TorchSharp modules (why: Nn/Scalars.cs); the aliases hide TorchSharp's types.
global using BatchNorm2d = MaskBit.Nn.BatchNorm2d;
global using LeakyReLU = MaskBit.Nn.LeakyReLU;
