using System.IO.Compression;
using System.Text;
using MaskBit.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Evaluation;

/// <summary>.npz files as NumPy writes and reads them (fixtures made by tests/fixtures/npz/make_npz.py).</summary>
public class NpzTests
{
    static string Fixture(string name) => Path.Combine(Golden.RepoRoot, "tests", "fixtures", "npz", name);

    // The arrays of make_npz.py's make_expected(), by the same formulas.
    static Dictionary<string, Tensor> Expected()
    {
        var i = arange(12, dtype: float64);
        var i3 = i[..3];
        return new()
        {
            ["mu"] = i3 * 0.25 - 1.0,
            ["sigma"] = outer(i3, i3) / 7.0 + eye(3, dtype: float64),
            ["f32"] = (arange(24, dtype: float32) / 8.0f - 1.5f).reshape(2, 3, 4),
            ["arr_0"] = (arange(2 * 4 * 5 * 3, dtype: int64) % 256).to(uint8).reshape(2, 4, 5, 3),
            ["fortran"] = i.reshape(3, 4) * 1.5,
            ["count"] = tensor(240L),
        };
    }

    static void AssertSame(Dictionary<string, Tensor> expected, OrderedDictionary<string, Tensor> got)
    {
        Assert.Equal(expected.Keys.Order(), got.Keys.Order());
        foreach (var (k, e) in expected)
        {
            Assert.Equal(e.dtype, got[k].dtype);
            Assert.Equal(e.shape, got[k].shape);
            Assert.True(e.equal(got[k]).all().item<bool>(), $"{k} differs");
        }
    }

    [Theory]
    [InlineData("numpy_written.npz")]     // np.savez: stored members (zip64 extra fields)
    [InlineData("numpy_compressed.npz")]  // np.savez_compressed: deflated members
    public void ReadsWhatNumPyWrote(string file)
    {
        using var scope = NewDisposeScope();
        AssertSame(Expected(), Npz.Read(Fixture(file)));
    }

    [Fact]
    public void WritesNumPysLayoutAndReadsItBack()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("npz");
        try
        {
            var path = Path.Combine(dir.FullName, "ours.npz");
            var expected = Expected();
            Npz.Write(path, expected.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)));
            AssertSame(expected, Npz.Read(path));
            // Member "mu.npy" byte for byte as np.save lays it out: magic, version 1.0, little-endian header length,
            // the dict padded with spaces to a 64-byte boundary and ended by '\n', then the raw C-order data.
            using var zip = ZipFile.OpenRead(path);
            using var s = zip.GetEntry("mu.npy")!.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            var bytes = ms.ToArray();
            Assert.Equal(new byte[] { 0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59 }, bytes[..6]); // "\x93NUMPY"
            Assert.Equal(new byte[] { 1, 0 }, bytes[6..8]);
            int headerLen = bytes[8] | bytes[9] << 8;
            Assert.Equal(0, (10 + headerLen) % 64);
            var header = Encoding.Latin1.GetString(bytes, 10, headerLen);
            Assert.Equal("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }".PadRight(headerLen - 1) + "\n", header);
            Assert.Equal(10 + headerLen + 3 * 8, bytes.Length);
            Assert.Equal(-1.0, BitConverter.ToDouble(bytes, 10 + headerLen));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void FidStatisticsRoundTripAndNameWhatIsMissing()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("npz");
        try
        {
            var path = Path.Combine(dir.FullName, "stats.npz");
            using (var s = new FidStatistics(arange(4, dtype: float64), eye(4, dtype: float64) * 2)) s.Save(path);
            using var back = FidStatistics.Load(path);
            Assert.Equal(4, back.Dim);
            Assert.Equal(8.0, back.Sigma.trace().item<double>());
            using var numpy = FidStatistics.Load(Fixture("numpy_written.npz")); // extra arrays are ignored
            Assert.Equal(3, numpy.Dim);
            var noSigma = Path.Combine(dir.FullName, "nosigma.npz");
            Npz.Write(noSigma, [KeyValuePair.Create("mu", zeros(3, float64))]);
            var err = Assert.Throws<InvalidDataException>(() => FidStatistics.Load(noSigma));
            Assert.Contains("'sigma'", err.Message);
            Assert.Contains("nosigma.npz", err.Message);
        }
        finally { dir.Delete(recursive: true); }
    }
}
