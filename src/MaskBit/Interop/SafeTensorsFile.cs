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

    /// <summary>One tensor as the header describes it, already checked on its own.</summary>
    public readonly record struct Entry(string Name, DTypeInfo Type, long[] Shape, long Begin, long End);

    /// <summary>
    /// The file's index: every tensor of the header in header order (name, type, shape, byte span), the header's
    /// <c>__metadata__</c>, and where the data section starts; no tensor data is read. The stream must be seekable.
    /// The whole header is checked first (as the reference implementation does): a sane length, valid JSON, for each
    /// tensor a known dtype, a non-negative shape and <c>data_offsets</c> whose span is exactly the tensor's size, and
    /// the spans together tiling the data section from its first byte to its last, with no gap and no overlap. The
    /// format has no checksum: a changed byte inside tensor data cannot be detected.
    /// </summary>
    public static (List<Entry> entries, Dictionary<string, string> metadata, long dataStart) Index(Stream s)
    {
        var len = new byte[8];
        s.ReadExactly(len);
        long n = BinaryPrimitives.ReadInt64LittleEndian(len);
        if (n < 2 || n > MaxHeader || n > s.Length - 8)
            throw new InvalidDataException($"safetensors header length {n} out of range (file has {s.Length} bytes, limit {MaxHeader})");
        var header = new byte[n];
        s.ReadExactly(header);
        long dataStart = 8 + n;
        var (entries, metadata) = ParseHeader(header);
        CheckLayout(entries, s.Length - dataStart);
        return (entries, metadata, dataStart);
    }

    /// <summary>One tensor of an <see cref="Index"/>ed file: a new CPU tensor of its shape.</summary>
    public static Tensor ReadEntry(Stream s, long dataStart, Entry e)
    {
        s.Position = dataStart + e.Begin;
        using var flat = TensorBytes.Read(s, e.Type, e.Shape.Aggregate(1L, (a, b) => a * b));
        return flat.view(e.Shape);
    }

    static (List<Entry>, Dictionary<string, string>) ParseHeader(byte[] header)
    {
        // JsonDocument parses invalid UTF-8 inside strings and throws only when they are read.
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw new InvalidDataException("invalid safetensors header: not UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"invalid safetensors header: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException("invalid safetensors header: not a JSON object");
            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(p.Name)) throw new InvalidDataException($"tensor {p.Name}: appears twice in the safetensors header");
                if (p.Name == "__metadata__") metadata = ParseMetadata(p.Value);
                else entries.Add(ParseEntry(p.Name, p.Value));
            }
            return (entries, metadata);
        }
    }

    static Dictionary<string, string> ParseMetadata(JsonElement m)
    {
        if (m.ValueKind != JsonValueKind.Object) throw new InvalidDataException("safetensors __metadata__ is not a JSON object");
        var metadata = new Dictionary<string, string>();
        foreach (var p in m.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"safetensors __metadata__ {p.Name} is not a string");
            metadata[p.Name] = p.Value.GetString()!;
        }
        return metadata;
    }

    static Entry ParseEntry(string name, JsonElement v)
    {
        InvalidDataException Bad(string what) => new($"tensor {name}: {what}");
        if (v.ValueKind != JsonValueKind.Object) throw Bad("header entry is not a JSON object");
        var dtypeName = v.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : throw Bad("no dtype string");
        var type = TensorBytes.BySafeTensors(dtypeName) ?? throw Bad($"unsupported dtype {dtypeName}");
        var shape = Longs(v, "shape") ?? throw Bad("shape is not a list of non-negative integers");
        var offsets = Longs(v, "data_offsets") is [var begin, var end] && begin <= end ? (begin, end) : throw Bad("data_offsets is not [begin, end] with 0 <= begin <= end");
        long bytes;
        try
        {
            bytes = checked(shape.Aggregate(1L, (a, b) => a * b) * type.Size);
        }
        catch (OverflowException)
        {
            throw Bad($"shape [{string.Join(", ", shape)}] too large");
        }
        if (offsets.end - offsets.begin != bytes)
            throw Bad($"data_offsets [{offsets.begin}, {offsets.end}] span {offsets.end - offsets.begin} bytes, shape [{string.Join(", ", shape)}] {dtypeName} needs {bytes}");
        return new Entry(name, type, shape, offsets.begin, offsets.end);
    }

    /// <summary>The property's array of non-negative integers, or null if it is missing or anything else.</summary>
    static long[]? Longs(JsonElement v, string property)
    {
        if (!v.TryGetProperty(property, out var a) || a.ValueKind != JsonValueKind.Array) return null;
        var result = new long[a.GetArrayLength()];
        int i = 0;
        foreach (var e in a.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out result[i]) || result[i] < 0) return null;
            i++;
        }
        return result;
    }

    /// <summary>The tensors' byte spans, in offset order, must tile the data section exactly: each begins where the
    /// previous ends, the first at 0, the last at the end of the file.</summary>
    static void CheckLayout(List<Entry> entries, long dataLength)
    {
        long covered = 0;
        string? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < covered) throw new InvalidDataException($"tensor {e.Name}: data_offsets [{e.Begin}, {e.End}] overlap tensor {previous} (ends at {covered})");
            if (e.Begin > covered) throw new InvalidDataException($"tensor {e.Name}: data_offsets [{e.Begin}, {e.End}] leave a gap after byte {covered}");
            (covered, previous) = (e.End, e.Name);
        }
        if (covered != dataLength)
            throw new InvalidDataException(previous is null
                ? $"safetensors file without tensors has {dataLength} data bytes"
                : $"tensor {previous}: data ends at byte {covered} of the data section, which has {dataLength} bytes ({(covered > dataLength ? "truncated file" : "trailing bytes")})");
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
