using System.Buffers.Binary;
using System.Text;

namespace MaskBit.Interop;

/// <summary>One node of an ONNX graph: operator, tensor names in and out, and its integer(-list) attributes.</summary>
internal sealed record OnnxNode(string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, IReadOnlyDictionary<string, long[]> Ints);

/// <summary>An ONNX graph's nodes in file order and its float32 initializers by name (CPU tensors).</summary>
internal sealed record OnnxGraph(string Path, IReadOnlyList<OnnxNode> Nodes, IReadOnlyDictionary<string, Tensor> Initializers) : IDisposable
{
    /// <summary>The initializer <paramref name="name"/>, checked against the expected shape.</summary>
    public Tensor Get(string name, params long[] shape)
    {
        if (!Initializers.TryGetValue(name, out var t))
            throw new InvalidDataException($"{Path}: no initializer '{name}' (expected [{string.Join(", ", shape)}])");
        if (!t.shape.SequenceEqual(shape))
            throw new InvalidDataException($"{Path}: initializer '{name}' is [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}]");
        return t;
    }

    public void Dispose()
    {
        foreach (var t in Initializers.Values) t.Dispose();
    }
}

/// <summary>
/// A minimal reader of ONNX model files (protobuf wire format, decoded by hand): the graph's nodes (op type, inputs,
/// outputs, INT/INTS attributes) and its FLOAT initializers, stored as <c>raw_data</c> (little-endian) or as
/// <c>float_data</c> (packed or not). Field numbers from onnx.proto: ModelProto.graph = 7; GraphProto.node = 1,
/// initializer = 5; NodeProto input = 1, output = 2, op_type = 4, attribute = 5; AttributeProto name = 1, i = 3,
/// ints = 8; TensorProto dims = 1, data_type = 2, float_data = 4, name = 8, raw_data = 9. Anything else is skipped.
/// </summary>
internal static class OnnxInitializers
{
    const int FloatType = 1; // TensorProto.DataType.FLOAT

    public static OnnxGraph Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model not found: {path}", path);
        var bytes = File.ReadAllBytes(path);
        try
        {
            ReadOnlyMemory<byte>? graph = null;
            foreach (var f in Fields(bytes)) if (f.Number == 7) graph = f.Bytes;
            if (graph is null) throw new InvalidDataException($"{path}: no graph (ModelProto field 7); not an ONNX model");
            var nodes = new List<OnnxNode>();
            var inits = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var f in Fields(graph.Value))
            {
                if (f.Number == 1) nodes.Add(Node(f.Bytes));
                else if (f.Number == 5) { var (name, t) = Initializer(path, f.Bytes); inits[name] = t; }
            }
            return new OnnxGraph(path, nodes, inits);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException or FormatException)
        {
            throw new InvalidDataException($"{path}: truncated or malformed protobuf ({e.Message})", e);
        }
    }

    static OnnxNode Node(ReadOnlyMemory<byte> bytes)
    {
        var (inputs, outputs, op, ints) = (new List<string>(), new List<string>(), "", new Dictionary<string, long[]>());
        foreach (var f in Fields(bytes))
        {
            switch (f.Number)
            {
                case 1: inputs.Add(Utf8(f.Bytes)); break;
                case 2: outputs.Add(Utf8(f.Bytes)); break;
                case 4: op = Utf8(f.Bytes); break;
                case 5:
                    string name = "";
                    var values = new List<long>();
                    foreach (var a in Fields(f.Bytes))
                    {
                        if (a.Number == 1) name = Utf8(a.Bytes);
                        else if (a.Number is 3 or 8) values.AddRange(a.WireType == 0 ? [(long)a.Varint] : PackedVarints(a.Bytes));
                    }
                    if (values.Count > 0) ints[name] = [.. values];
                    break;
            }
        }
        return new OnnxNode(op, inputs, outputs, ints);
    }

    static (string name, Tensor tensor) Initializer(string path, ReadOnlyMemory<byte> bytes)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        (string name, long type, ReadOnlyMemory<byte>? raw) = ("", 0, null);
        foreach (var f in Fields(bytes))
        {
            switch (f.Number)
            {
                case 1: dims.AddRange(f.WireType == 0 ? [(long)f.Varint] : PackedVarints(f.Bytes)); break;
                case 2: type = (long)f.Varint; break;
                case 4: // repeated float: packed (wire type 2) or one fixed32 per value (wire type 5)
                    if (f.WireType == 5) floats.Add(BitConverter.Int32BitsToSingle((int)f.Varint));
                    else for (int i = 0; i + 4 <= f.Bytes.Length; i += 4) floats.Add(BinaryPrimitives.ReadSingleLittleEndian(f.Bytes.Span[i..]));
                    break;
                case 8: name = Utf8(f.Bytes); break;
                case 9: raw = f.Bytes; break;
            }
        }
        if (type != FloatType) throw new InvalidDataException($"{path}: initializer '{name}' has data_type {type}, expected {FloatType} (FLOAT)");
        long count = dims.Aggregate(1L, (a, b) => a * b);
        float[] data = raw is { } r ? new float[r.Length / 4] : [.. floats];
        if (raw is { } rb)
            for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(rb.Span[(4 * i)..]);
        if (data.Length != count)
            throw new InvalidDataException($"{path}: initializer '{name}' holds {data.Length} floats, its dims [{string.Join(", ", dims)}] need {count}");
        return (name, tensor(data, [.. dims]));
    }

    static string Utf8(ReadOnlyMemory<byte> b) => Encoding.UTF8.GetString(b.Span);

    static IEnumerable<long> PackedVarints(ReadOnlyMemory<byte> b)
    {
        var values = new List<long>();
        for (int pos = 0; pos < b.Length;) values.Add((long)ReadVarint(b.Span, ref pos));
        return values;
    }

    /// <summary>A protobuf field: number, wire type, and its varint / fixed value or length-delimited bytes.</summary>
    readonly record struct Field(int Number, int WireType, ulong Varint, ReadOnlyMemory<byte> Bytes);

    static IEnumerable<Field> Fields(ReadOnlyMemory<byte> message)
    {
        int pos = 0;
        while (pos < message.Length)
        {
            ulong key = ReadVarint(message.Span, ref pos);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: yield return new(number, wire, ReadVarint(message.Span, ref pos), default); break;
                case 1: yield return new(number, wire, BinaryPrimitives.ReadUInt64LittleEndian(message.Span[pos..]), default); pos += 8; break;
                case 5: yield return new(number, wire, BinaryPrimitives.ReadUInt32LittleEndian(message.Span[pos..]), default); pos += 4; break;
                case 2:
                    int length = checked((int)ReadVarint(message.Span, ref pos));
                    yield return new(number, wire, 0, message.Slice(pos, length));
                    pos += length;
                    break;
                default: throw new FormatException($"protobuf wire type {wire} (field {number}) at byte {pos} is not supported");
            }
        }
    }

    static ulong ReadVarint(ReadOnlySpan<byte> b, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte c = b[pos++];
            result |= (ulong)(c & 0x7f) << shift;
            if (c < 0x80) return result;
        }
        throw new FormatException($"protobuf varint longer than 10 bytes at byte {pos}");
    }
}
