using MaskBit.Nn;
using MaskBit.Native;
using MaskBit.Generation;
using static TorchSharp.torch;

namespace MaskBit.Tests.Native;

/// <summary>Fully connected layers through the external CBLAS (OpenBLAS where installed; .ci/run installs it).</summary>
public class BlasTests
{
    static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = (expected - actual).abs().max().to_type(ScalarType.Float64).item<double>();
        var scale = expected.abs().max().to_type(ScalarType.Float64).item<double>();
        Assert.True(diff <= 1e-5 * Math.Max(1, scale), $"max |diff| {diff} (max |y| {scale})");
    }

    [Fact]
    public void OpenBlasIsUsedWhereItIsInstalled()
    {
        if (Environment.GetEnvironmentVariable(Blas.Variable) is { Length: > 0 }) return; // a user's choice, not the default
        bool installed = new[] { "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "/usr/lib/aarch64-linux-gnu/libopenblas.so.0" }.Any(File.Exists);
        Assert.Equal(installed, Blas.Backend.Contains("openblas", StringComparison.Ordinal));
    }

    // Products at or above the external path's minimum (2 x 300 x 1024 -> 1024: 6.3e8 multiply-adds), so that they
    // take it where a library is loaded.
    [Theory]
    [InlineData(new long[] { 600, 1024 }, 1024, true)]
    [InlineData(new long[] { 2, 300, 1024 }, 1024, true)]
    [InlineData(new long[] { 2, 300, 1024 }, 1024, false)]
    public void LinearEqualsTorchsLinear(long[] shape, long outFeatures, bool bias)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = randn(shape);
        var w = randn(outFeatures, shape[^1]);
        var b = bias ? randn(outFeatures) : null;
        Assert.True((double)x.numel() * outFeatures >= Blas.MinMultiplyAdds);
        AssertClose(nn.functional.linear(x, w, b), Blas.Linear(x, w, b));
        // A non-contiguous input (a transposed view) gives the same as its contiguous copy.
        if (shape.Length == 3)
        {
            var t = randn(shape[0], shape[2], shape[1]).transpose(1, 2);
            AssertClose(nn.functional.linear(t.contiguous(), w, b), Blas.Linear(t, w, b));
        }
    }

    [Fact]
    public void WithGradientsItIsTorchsLinearAndBackpropagates()
    {
        using var scope = NewDisposeScope();
        var layer = new BlasLinear(8, 4);
        var x = randn(3, 8, requires_grad: true);
        var y = layer.forward(x);
        Assert.True(y.requires_grad);
        y.sum().backward();
        // d(sum)/dx = column sums of W; d(sum)/db = the batch size.
        AssertClose(layer.weight.detach().sum([0]).expand(3, 8), x.grad!);
        AssertClose(ones(4) * 3, layer.bias!.grad!);
        // Without gradients the external path gives the same values.
        using (no_grad()) AssertClose(y.detach(), layer.forward(x.detach()));
    }

    [Fact]
    public void SmallProductsOtherDtypesAndEmptyInputsTakeTorchsPath()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Below the minimum: libtorch's own result, to the bit.
        var (xs, ws, bs) = (randn(2, 5, 16), randn(24, 16), randn(24));
        Assert.True(nn.functional.linear(xs, ws, bs).equal(Blas.Linear(xs, ws, bs)).all().item<bool>());
        var w = randn(4, 8, dtype: ScalarType.Float64);
        var x = randn(2, 8, dtype: ScalarType.Float64);
        var y = Blas.Linear(x, w, null);
        Assert.Equal(ScalarType.Float64, y.dtype);
        AssertClose(x.matmul(w.t()), y);
        Assert.Equal(new long[] { 0, 4 }, Blas.Linear(empty(0, 8), randn(4, 8), randn(4)).shape);
    }

    [Fact]
    public void TheLayerHasTorchsLinearKeysAndInitialisation()
    {
        using var layer = new BlasLinear(64, 16);
        Assert.Equal(["weight [16,64]", "bias [16]"], layer.named_parameters().Select(p => $"{p.name} [{string.Join(",", p.parameter.shape)}]"));
        // PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for both (kaiming-uniform with a = sqrt(5) for the weight).
        double bound = 1 / Math.Sqrt(64);
        foreach (var p in new[] { layer.weight, layer.bias! })
        {
            Assert.True(p.abs().max().item<float>() <= bound + 1e-6);
            Assert.True(p.std().item<float>() > bound / 2 / Math.Sqrt(3), "the values spread over the interval");
        }
        using var noBias = new BlasLinear(64, 16, hasBias: false);
        Assert.Equal(["weight"], noBias.named_parameters().Select(p => p.name));
    }

    [Theory]
    [InlineData("torch", null)]
    [InlineData("no-such-blas-library.so", "cannot load")]
    [InlineData("libc.so.6", "no cblas_sgemm")]
    public void TheSettingNamesTheLibraryOrTurnsItOff(string setting, string? error)
    {
        if (!OperatingSystem.IsLinux()) return;
        if (error is null)
        {
            Assert.Null(Blas.Load(setting));
            return;
        }
        var e = Assert.Throws<InvalidOperationException>(() => Blas.Load(setting));
        Assert.Contains($"{Blas.Variable}={setting}", e.Message);
        Assert.Contains(error, e.Message);
    }
}
