using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using MaskBit.Interop;

namespace MaskBit.Evaluation;

/// <summary>
/// NumPy <c>.npz</c> archives (what <c>np.savez</c> / <c>np.savez_compressed</c> write: a zip of <c>&lt;name&gt;.npy</c>
/// members) without Python: the FID statistics files of pytorch-fid / the ADM suite (<c>mu</c>, <c>sigma</c>) and the
/// ADM sample batches (<c>arr_0</c>, uint8 NHWC). Reads little-endian float32/float64/uint8/int32/int64/bool arrays in
/// C or Fortran order; writes NumPy's own layout (format 1.0, header padded to 64 bytes, C order, stored members).
/// </summary>
public static partial class Npz
{
    static readonly (string descr, ScalarType type)[] Descrs =
    [
        ("<f4", ScalarType.Float32), ("<f8", ScalarType.Float64), ("|u1", ScalarType.Byte),
        ("<i4", ScalarType.Int32), ("<i8", ScalarType.Int64), ("|b1", ScalarType.Bool),
    ];

    static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Every array of the archive (member name without <c>.npy</c> -> CPU tensor), in archive order.</summary>
    public static OrderedDictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"npz file not found: {path}", path);
        var result = new OrderedDictionary<string, Tensor>();
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal)) continue;
                using var s = entry.Open();
                using var buffered = new BufferedStream(s, 1 << 16);
                result[entry.FullName[..^4]] = ReadNpy(buffered, $"{path}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e)
        {
            foreach (var t in result.Values) t.Dispose();
            throw new InvalidDataException($"{path}: not a NumPy .npz archive ({e.Message})", e);
        }
        return result;
    }

    /// <summary>Writes the arrays (any device/layout; stored C order) atomically as <c>np.savez</c> does.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> arrays)
    {
        var list = arrays.ToList();
        AtomicFile.Write(path, file =>
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, t) in list)
            {
                var entry = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression);
                using var s = entry.Open();
                WriteNpy(s, t, $"{path}:{name}");
            }
        });
    }

    /// <summary>
    /// Writes a one-array archive whose data <paramref name="writeData"/> streams (raw little-endian, C order, exactly
    /// numel * element size bytes): for arrays too large to hold in memory, e.g. an ADM sample batch of 50,000 images.
    /// </summary>
    public static void WriteStreamed(string path, string name, ScalarType type, long[] shape, Action<Stream> writeData) =>
        AtomicFile.Write(path, file =>
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true);
            using var s = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
            WriteHeader(s, type, shape, $"{path}:{name}");
            writeData(s);
        });

    /// <summary>One <c>.npy</c> stream -> a CPU tensor of its dtype and shape.</summary>
    public static Tensor ReadNpy(Stream s, string what)
    {
        Span<byte> pre = stackalloc byte[8];
        s.ReadExactly(pre);
        if (!pre[..6].SequenceEqual(Magic)) throw new InvalidDataException($"{what}: not a .npy array (bad magic)");
        int major = pre[6];
        int headerLen;
        if (major == 1)
        {
            Span<byte> n = stackalloc byte[2];
            s.ReadExactly(n);
            headerLen = n[0] | n[1] << 8;
        }
        else if (major is 2 or 3)
        {
            Span<byte> n = stackalloc byte[4];
            s.ReadExactly(n);
            headerLen = BitConverter.ToInt32(n);
        }
        else throw new InvalidDataException($"{what}: .npy format version {major} is not supported (expected 1, 2 or 3)");
        var headerBytes = new byte[headerLen];
        s.ReadExactly(headerBytes);
        var header = Encoding.Latin1.GetString(headerBytes);
        var m = HeaderRegex().Match(header);
        if (!m.Success) throw new InvalidDataException($"{what}: unreadable .npy header {header.Trim()}");
        var descr = m.Groups["descr"].Value;
        var type = Descrs.FirstOrDefault(d => d.descr == descr);
        if (type.descr is null)
            throw new InvalidDataException($"{what}: dtype '{descr}' is not supported (expected one of {string.Join(", ", Descrs.Select(d => d.descr))})");
        bool fortran = m.Groups["fortran"].Value == "True";
        var shape = m.Groups["shape"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => long.Parse(x.TrimEnd('L'), CultureInfo.InvariantCulture)).ToArray();
        long numel = shape.Aggregate(1L, (a, b) => a * b);
        var info = TensorBytes.Of(type.type, what);
        using var flat = TensorBytes.Read(s, info, numel);
        if (!fortran || shape.Length < 2) return flat.reshape(shape).clone();
        // Fortran order: the data are the transposed array in C order.
        var reversed = shape.Reverse().ToArray();
        using var transposed = flat.reshape(reversed);
        return transposed.permute(Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i).ToArray()).contiguous();
    }

    /// <summary>Writes <paramref name="t"/> as a format-1.0 <c>.npy</c> stream (NumPy's header layout, C order).</summary>
    public static void WriteNpy(Stream s, Tensor t, string what)
    {
        WriteHeader(s, t.dtype, t.shape, what);
        TensorBytes.Write(t, s);
    }

    static void WriteHeader(Stream s, ScalarType dtype, long[] shapeDims, string what)
    {
        var type = Descrs.FirstOrDefault(d => d.type == dtype);
        if (type.descr is null) throw new ArgumentException($"{what}: dtype {dtype} cannot be written to .npy");
        var dims = shapeDims.Select(d => d.ToString(CultureInfo.InvariantCulture)).ToArray();
        var shape = dims.Length == 1 ? $"({dims[0]},)" : $"({string.Join(", ", dims)})";
        var dict = $"{{'descr': '{type.descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // NumPy pads with spaces so that magic + version + length + header (ending in '\n') is a multiple of 64.
        int total = (Magic.Length + 2 + 2 + dict.Length + 1 + 63) / 64 * 64;
        var header = dict.PadRight(total - Magic.Length - 4 - 1) + "\n";
        s.Write(Magic);
        s.Write([1, 0, (byte)(header.Length & 0xff), (byte)(header.Length >> 8)]);
        s.Write(Encoding.Latin1.GetBytes(header));
    }

    [GeneratedRegex(@"'descr':\s*'(?<descr>[^']+)'.*'fortran_order':\s*(?<fortran>True|False).*'shape':\s*\((?<shape>[^)]*)\)", RegexOptions.Singleline)]
    private static partial Regex HeaderRegex();
}
