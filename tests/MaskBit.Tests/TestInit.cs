using System.Runtime.CompilerServices;

namespace MaskBit.Tests;

static class TestInit
{
    // Tests may call torch before touching any MaskBit type: make the native library loadable first.
    [ModuleInitializer]
    internal static void Init()
    {
        MaskBit.Native.NativeLibraryFix.EnsureLoadable();
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
    }
}
