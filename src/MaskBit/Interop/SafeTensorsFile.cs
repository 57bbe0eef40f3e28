using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace MaskBit.Interop;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// (<c>name -> {dtype, shape, data_offsets: [begin, end]}</c> relative to the data section, plus an optional
/// <c>__metadata__</c> string map), then the raw little-endian tensor bytes.
/// </summary>
static class SafeTensorsFile
{
    const long MaxHeader = 100_000_000; // the reference implementation's limit

    /// <summary>True when the first bytes look like a safetensors header (a sane length followed by '{').</summary>
    public static bool Looks(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length < 9) return false;
        long n = BinaryPrimitives.ReadInt64LittleEndian(head);
        return n >= 2 && n <= MaxHeader && n <= fileLength - 8 && head[8] == (byte)'{';
    }

    /// <summary>Every tensor of the file in header order, and the header's <c>__metadata__</c>. The stream must be seekable.</summary>
    public static List<KeyValuePair<string, Tensor>> Read(Stream s, out Dictionary<string, string> metadata)
    {
        var len = new byte[8];
        s.ReadExactly(len);
        long n = BinaryPrimitives.ReadInt64LittleEndian(len);
        if (n < 2 || n > MaxHeader || n > s.Length - 8) throw new InvalidDataException($"safetensors header length {n} out of range");
        var header = new byte[n];
        s.ReadExactly(header);
        long dataStart = 8 + n, dataLength = s.Length - dataStart;

        var result = new List<KeyValuePair<string, Tensor>>();
        var (entries, meta) = ParseHeader(header);
        metadata = meta;
        try
        {
            foreach (var (name, dtypeName, shape, offsets) in entries)
            {
                var type = TensorBytes.BySafeTensors(dtypeName) ?? throw new InvalidDataException($"tensor {name}: unsupported dtype {dtypeName}");
                long numel = shape.Aggregate(1L, (a, b) => a * b);
                if (shape.Any(d => d < 0) || offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength || offsets[1] - offsets[0] != numel * type.Size)
                    throw new InvalidDataException($"tensor {name}: data_offsets [{string.Join(", ", offsets)}] do not fit shape [{string.Join(", ", shape)}] {dtypeName} in {dataLength} data bytes");
                s.Position = dataStart + offsets[0];
                using var flat = TensorBytes.Read(s, type, numel);
                result.Add(new(name, flat.view(shape)));
            }
            return result;
        }
        catch
        {
            foreach (var kv in result) kv.Value.Dispose();
            throw;
        }
    }

    static (List<(string Name, string DType, long[] Shape, long[] Offsets)>, Dictionary<string, string>) ParseHeader(byte[] header)
    {
        try
        {
            using var doc = JsonDocument.Parse(header);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException("safetensors header is not a JSON object");
            var entries = doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").Select(p => (
                p.Name,
                p.Value.GetProperty("dtype").GetString() ?? "",
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray())).ToList();
            var metadata = doc.RootElement.TryGetProperty("__metadata__", out var m)
                ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "")
                : new Dictionary<string, string>();
            return (entries, metadata);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"invalid safetensors header: {e.Message}", e);
        }
    }

    /// <summary>Writes the tensors in the given order, with <c>__metadata__ {"format": "pt"}</c> (what transformers expects)
    /// plus the given string pairs.</summary>
    public static void Write(Stream output, IReadOnlyList<KeyValuePair<string, Tensor>> entries, string what, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            foreach (var (k, v) in metadata ?? new Dictionary<string, string>())
                if (k != "format") w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var (key, t) in entries)
            {
                var type = TensorBytes.Of(t.dtype, $"{what}: {key}");
                long bytes = t.numel() * type.Size;
                w.WriteStartObject(key);
                w.WriteString("dtype", type.SafeTensors);
                w.WriteStartArray("shape");
                foreach (var d in t.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // The header is padded with spaces so the data section starts 8-byte aligned.
        int pad = (int)((8 - json.Length % 8) % 8);
        var len = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, json.Length + pad);
        output.Write(len);
        json.WriteTo(output);
        output.Write(Encoding.ASCII.GetBytes(new string(' ', pad)));
        foreach (var (_, t) in entries) TensorBytes.Write(t, output);
    }
}
