using System.Text;
using MaskBit.Interop;
using static TorchSharp.torch;

namespace MaskBit.Tests.Interop;

public class OnnxInitializersTests
{
    // Protobuf encoding by hand: key = field << 3 | wire type; length-delimited fields carry a varint length.
    static byte[] Varint(ulong v) { var b = new List<byte>(); do { byte c = (byte)(v & 0x7f); v >>= 7; b.Add(v != 0 ? (byte)(c | 0x80) : c); } while (v != 0); return [.. b]; }
    static byte[] Key(int field, int wire) => Varint((ulong)(field << 3 | wire));
    static byte[] Bytes(int field, byte[] payload) => [.. Key(field, 2), .. Varint((ulong)payload.Length), .. payload];
    static byte[] Str(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));
    static byte[] Int(int field, long v) => [.. Key(field, 0), .. Varint((ulong)v)];
    static byte[] Floats(float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    static string Write(byte[] graph)
    {
        var path = Path.Combine(Path.GetTempPath(), $"onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, [.. Int(1, 3), .. Bytes(7, graph)]); // ir_version, graph
        return path;
    }

    [Fact]
    public void ReadsRawPackedAndUnpackedFloatsAndNodeAttributes()
    {
        byte[] raw = [.. Int(1, 2), .. Int(1, 2), .. Int(2, 1), .. Str(8, "raw"), .. Bytes(9, Floats([1, 2, 3, 4]))];
        byte[] packed = [.. Bytes(1, [.. Varint(3)]), .. Int(2, 1), .. Bytes(4, Floats([5, 6, 7])), .. Str(8, "packed")];
        byte[] unpacked = [.. Int(1, 2), .. Int(2, 1), .. Key(4, 5), .. BitConverter.GetBytes(8f), .. Key(4, 5), .. BitConverter.GetBytes(9f), .. Str(8, "unpacked")];
        byte[] attr = [.. Str(1, "pads"), .. Bytes(8, [.. Varint(1), .. Varint(1), .. Varint(0), .. Varint(300)])];
        byte[] node = [.. Str(1, "x"), .. Str(1, "raw"), .. Str(2, "y"), .. Str(4, "Conv"), .. Bytes(5, attr)];
        var path = Write([.. Bytes(1, node), .. Bytes(5, raw), .. Bytes(5, packed), .. Bytes(5, unpacked)]);
        try
        {
            using var g = OnnxInitializers.Read(path);
            Assert.Equal(new float[] { 1, 2, 3, 4 }, g.Get("raw", 2, 2).data<float>().ToArray());
            Assert.Equal(new float[] { 5, 6, 7 }, g.Get("packed", 3).data<float>().ToArray());
            Assert.Equal(new float[] { 8, 9 }, g.Get("unpacked", 2).data<float>().ToArray());
            var n = Assert.Single(g.Nodes);
            Assert.Equal("Conv", n.OpType);
            Assert.Equal(["x", "raw"], n.Inputs);
            Assert.Equal(["y"], n.Outputs);
            Assert.Equal(new long[] { 1, 1, 0, 300 }, n.Ints["pads"]);
            var e = Assert.Throws<InvalidDataException>(() => g.Get("raw", 4));
            Assert.Contains("'raw' is [2, 2], expected [4]", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MalformedFilesFailNamingTheFile()
    {
        byte[] wrongCount = [.. Int(1, 3), .. Int(2, 1), .. Str(8, "short"), .. Bytes(9, Floats([1, 2]))];
        byte[] wrongType = [.. Int(1, 1), .. Int(2, 7), .. Str(8, "int64"), .. Bytes(9, new byte[8])];
        foreach (var (graph, expected) in new[] { (wrongCount, "holds 2 floats, its dims [3] need 3"), (wrongType, "data_type 7, expected 1") })
        {
            var path = Write([.. Bytes(5, graph)]);
            try { Assert.Contains(expected, Assert.Throws<InvalidDataException>(() => OnnxInitializers.Read(path)).Message); }
            finally { File.Delete(path); }
        }
        var truncated = Write(Bytes(5, Str(8, "t")));
        try
        {
            var bytes = File.ReadAllBytes(truncated);
            File.WriteAllBytes(truncated, bytes[..^2]);
            var e = Assert.Throws<InvalidDataException>(() => OnnxInitializers.Read(truncated));
            Assert.StartsWith(truncated, e.Message);
        }
        finally { File.Delete(truncated); }
    }
}
