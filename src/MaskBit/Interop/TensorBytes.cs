namespace MaskBit.Interop;

/// <summary>One element type as the three file formats name it.</summary>
sealed record DTypeInfo(ScalarType Type, int Size, string TorchStorage, string SafeTensors);

/// <summary>Element types the readers/writers support, and raw little-endian byte transfer between streams and CPU tensors.</summary>
static class TensorBytes
{
    public static readonly DTypeInfo[] Types =
    [
        new(ScalarType.Float32, 4, "FloatStorage", "F32"),
        new(ScalarType.Float64, 8, "DoubleStorage", "F64"),
        new(ScalarType.Float16, 2, "HalfStorage", "F16"),
        new(ScalarType.BFloat16, 2, "BFloat16Storage", "BF16"),
        new(ScalarType.Int64, 8, "LongStorage", "I64"),
        new(ScalarType.Int32, 4, "IntStorage", "I32"),
        new(ScalarType.Int16, 2, "ShortStorage", "I16"),
        new(ScalarType.Int8, 1, "CharStorage", "I8"),
        new(ScalarType.Byte, 1, "ByteStorage", "U8"),
        new(ScalarType.Bool, 1, "BoolStorage", "BOOL"),
    ];

    public static DTypeInfo? ByStorage(string name) =>
        // torch 2.x pickles untyped storages as UntypedStorage (bytes).
        name == "UntypedStorage" ? Types.First(t => t.Type == ScalarType.Byte) : Types.FirstOrDefault(t => t.TorchStorage == name);

    public static DTypeInfo? BySafeTensors(string name) => Types.FirstOrDefault(t => t.SafeTensors == name);

    public static DTypeInfo Of(ScalarType type, string what) =>
        Types.FirstOrDefault(t => t.Type == type) ?? throw new CheckpointException($"{what}: dtype {type} cannot be written");

    // TorchSharp exposes a tensor's memory as a Span (int-sized), so large tensors move in chunks.
    const long ChunkBytes = 1 << 26;

    /// <summary>A new 1-D CPU tensor of <paramref name="numel"/> elements read from <paramref name="input"/> (raw little-endian bytes).</summary>
    public static Tensor Read(Stream input, DTypeInfo type, long numel)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoint files are little-endian; this machine is not");
        var t = empty(numel, type.Type);
        try
        {
            long perChunk = Math.Max(1, ChunkBytes / type.Size);
            for (long start = 0; start < numel; start += perChunk)
            {
                using var part = t.narrow(0, start, Math.Min(perChunk, numel - start));
                input.ReadExactly(part.bytes);
            }
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Writes the elements of <paramref name="t"/> (any layout or device) in row-major order as raw little-endian bytes.</summary>
    public static void Write(Tensor t, Stream output)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoint files are little-endian; this machine is not");
        using var scope = NewDisposeScope();
        var flat = t.detach().cpu().contiguous().reshape(-1);
        long numel = flat.numel();
        long perChunk = Math.Max(1, ChunkBytes / flat.element_size());
        for (long start = 0; start < numel; start += perChunk)
        {
            output.Write(flat.narrow(0, start, Math.Min(perChunk, numel - start)).bytes);
        }
    }
}
