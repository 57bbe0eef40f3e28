// Namespaces every model file of the library uses.
global using TorchSharp;
global using TorchSharp.Modules;
global using static TorchSharp.torch;
global using F = TorchSharp.torch.nn.functional;
