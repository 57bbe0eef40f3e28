using System.IO.Compression;
using System.Text;

namespace MaskBit.Interop;

/// <summary>
/// A storage named by a pickle's persistent id. Its bytes are read only when a tensor on it is materialised,
/// so the optimizer states and callbacks of a Lightning checkpoint cost nothing when only the weights are wanted.
/// </summary>
sealed class StorageRef(string typeName, long numel, Func<StorageRef, Tensor> load)
{
    public string TypeName { get; } = typeName;
    public DTypeInfo? Type { get; } = TensorBytes.ByStorage(typeName);
    public long Numel { get; } = numel;

    /// <summary>A new 1-D CPU tensor holding the whole storage.</summary>
    public Tensor Load() => Type is null
        ? throw new InvalidDataException($"unsupported storage type {TypeName}")
        : load(this);
}

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a strided view into a storage.</summary>
sealed class TensorRef(StorageRef storage, long offset, long[] shape, long[] stride)
{
    public StorageRef Storage { get; } = storage;
    public long[] Shape => shape;

    /// <summary>A new CPU tensor with the view's values, independent of the storage unless it covers all of it.</summary>
    public Tensor Materialize()
    {
        if (shape.Length != stride.Length) throw new InvalidDataException($"tensor size has {shape.Length} dims but stride {stride.Length}");
        if (offset < 0 || shape.Any(s => s < 0) || stride.Any(s => s < 0))
            throw new InvalidDataException("tensor with a negative offset, size or stride");
        // checked: a damaged size must not wrap around to a small element count that passes the extent test
        long numel = shape.Aggregate(1L, (a, b) => checked(a * b));
        long extent = numel == 0 ? 0 : checked(offset + shape.Zip(stride).Sum(p => checked((p.First - 1) * p.Second)) + 1);
        if (extent > Storage.Numel)
            throw new InvalidDataException($"tensor view (offset {offset}, size [{string.Join(", ", shape)}], stride [{string.Join(", ", stride)}]) reaches past its storage of {Storage.Numel} elements");
        using var all = Storage.Load();
        // The usual case (one storage per tensor) aliases the storage; any other view is copied out contiguously.
        if (offset == 0 && numel == Storage.Numel && stride.SequenceEqual(ContiguousStride(shape))) return all.view(shape);
        using var view = all.as_strided(shape, stride, offset);
        return empty(shape, all.dtype).copy_(view);
    }

    public static long[] ContiguousStride(long[] shape)
    {
        var stride = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { stride[i] = s; s *= Math.Max(1, shape[i]); }
        return stride;
    }
}

/// <summary>The torch side of unpickling: storages from persistent ids and the few rebuild functions torch pickles call.</summary>
sealed class TorchResolver(Func<string, string, long, object?[], object?> storage) : IPickleResolver
{
    public object? PersistentLoad(object? pid)
    {
        // ('storage', storage_type, key, location, numel[, view_metadata (legacy format)]); location (cpu, cuda:0) is ignored.
        if (pid is not object?[] { Length: >= 5 } t || t[0] as string != "storage" || t[1] is not PickleGlobal type || t[4] is not long numel || numel < 0)
            throw new InvalidDataException($"unsupported persistent id {PickleReader.Describe(pid)}");
        return storage(t[2]?.ToString() ?? "", type.Name, numel, t);
    }

    public bool TryReduce(PickleGlobal f, object?[] args, out object? result)
    {
        result = (f.Module, f.Name) switch
        {
            // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]); v1 lacks the last ones
            ("torch._utils", "_rebuild_tensor_v2" or "_rebuild_tensor") => RebuildTensor(args),
            // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is its data here
            ("torch._utils", "_rebuild_parameter" or "_rebuild_parameter_with_state") => args.Length > 0 && args[0] is TensorRef ? args[0] : null,
            // _rebuild_from_type_v2(func, type, args, state): tensor subclasses; rebuild the plain tensor
            ("torch._tensor", "_rebuild_from_type_v2") when args.Length >= 3 && args[0] is PickleGlobal g && args[2] is object?[] a
                => TryReduce(g, a, out var inner) ? inner : null,
            ("collections", "OrderedDict") => OrderedDict(args),
            _ => null,
        };
        return result is not null;
    }

    static object? RebuildTensor(object?[] args)
    {
        if (args.Length < 4 || args[0] is not StorageRef s || args[1] is not long offset || Longs(args[2]) is not { } shape || Longs(args[3]) is not { } stride)
            return null;
        return new TensorRef(s, offset, shape, stride);
    }

    static long[]? Longs(object? o) => o is object?[] t && t.All(x => x is long) ? t.Select(x => (long)x!).ToArray() : null;

    static PickleDict? OrderedDict(object?[] args)
    {
        var d = new PickleDict();
        if (args.Length == 0) return d;
        if (args[0] is not List<object?> pairs) return null;
        foreach (var p in pairs)
        {
            if (p is not object?[] { Length: 2 } kv) return null;
            d.Set(kv[0], kv[1]);
        }
        return d;
    }
}

/// <summary>Reads and writes <c>torch.save</c> files (zip format of PyTorch >= 1.6, and the legacy pre-1.6 stream).</summary>
static class TorchFile
{
    static readonly byte[] LegacyMagic = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    public static bool IsZip(ReadOnlySpan<byte> head) => head.StartsWith("PK\x03\x04"u8) || head.StartsWith("PK\x05\x06"u8);

    /// <summary>A legacy file starts with the pickled magic number 0x1950a86a20f9469cfc6c (PROTO n, LONG1 10 bytes).</summary>
    public static bool IsLegacy(ReadOnlySpan<byte> head) => head.Length >= 14 && head[0] == 0x80 && head[2..14].SequenceEqual(LegacyMagic);

    /// <summary>
    /// Reads the object a zip-format <c>torch.save</c> wrote. Tensors come back as <see cref="TensorRef"/>s that read their
    /// bytes from <paramref name="zip"/> when materialised, so the archive must stay open until then. Every entry read
    /// (the pickle, the byte order, each storage) is checked against its CRC-32, so a damaged file never loads silently.
    /// </summary>
    public static object? ReadZip(ZipReader zip)
    {
        // "<prefix>/data.pkl": the prefix is the file stem for torch < 2.0 and "archive" later.
        var pkl = zip.Entries.FirstOrDefault(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) && e.Name.IndexOf('/') == e.Name.Length - 9)
            ?? throw new InvalidDataException("zip archive without <name>/data.pkl (not a torch.save file)");
        var prefix = pkl.Name[..^"data.pkl".Length];
        var byteorder = zip.Find(prefix + "byteorder");
        if (byteorder is not null && Encoding.ASCII.GetString(zip.ReadAll(byteorder)).Trim() != "little")
            throw new InvalidDataException("big-endian torch file is not supported");
        var resolver = new TorchResolver((key, type, numel, _) => new StorageRef(type, numel, s =>
        {
            var entry = zip.Find($"{prefix}data/{key}") ?? throw new InvalidDataException($"storage {prefix}data/{key} missing from the archive");
            long bytes = checked(s.Numel * s.Type!.Size);
            if (entry.Length < bytes) throw new InvalidDataException($"storage {entry.Name} holds {entry.Length} bytes, expected {bytes}");
            using var data = zip.Open(entry);
            var t = TensorBytes.Read(data, s.Type, s.Numel);
            try
            {
                data.Finish();
                return t;
            }
            catch
            {
                t.Dispose();
                throw;
            }
        }));
        return new PickleReader(new MemoryStream(zip.ReadAll(pkl), writable: false), resolver).Load();
    }

    /// <summary>
    /// Reads a legacy (pre-1.6) torch file: pickled magic number, protocol version (1001), sys-info dict, the object pickle,
    /// the sorted list of storage keys, then per storage an int64 element count and its raw bytes. The stream must be seekable
    /// and stay open until the tensors are materialised.
    /// The legacy format carries no checksum: a damaged structure is refused, but a changed byte inside tensor data (or a
    /// change to the pickle that still parses, such as a renamed key) loads without notice. Re-save such files in the zip
    /// format (<see cref="Checkpoint.WriteStateDict"/>), whose entries carry CRC-32s.
    /// </summary>
    public static object? ReadLegacy(Stream stream)
    {
        var none = new TorchResolver((_, _, _, _) => throw new InvalidDataException("legacy header holds a storage"));
        new PickleReader(stream, none).Load(); // magic number (already checked)
        if (new PickleReader(stream, none).Load() is not 1001L) throw new InvalidDataException("legacy torch file with an unknown protocol version");
        if (new PickleReader(stream, none).Load() is PickleDict sys && sys.TryGet("little_endian", out var le) && le is false)
            throw new InvalidDataException("big-endian torch file is not supported");

        var roots = new Dictionary<string, StorageRef>();
        var offsets = new Dictionary<string, long>(); // key -> stream position of the storage's bytes, known after the pickle
        StorageRef Root(string key, string type, long numel) =>
            roots.TryGetValue(key, out var r) ? r : roots[key] = new StorageRef(type, numel, s =>
            {
                stream.Position = offsets.TryGetValue(key, out var at) ? at : throw new InvalidDataException($"legacy storage {key} has no data");
                return TensorBytes.Read(stream, s.Type!, s.Numel);
            });

        var resolver = new TorchResolver((key, type, numel, pid) =>
        {
            var root = Root(key, type, numel);
            // view_metadata (view_key, offset, size): an old-style storage view, offset and size in elements
            if (pid.Length < 6 || pid[5] is null) return root;
            if (pid[5] is not object?[] { Length: 3 } v || v[1] is not long off || v[2] is not long size || off < 0 || size < 0 || off + size > numel)
                throw new InvalidDataException("malformed legacy storage view");
            return new StorageRef(type, size, _ =>
            {
                using var all = root.Load();
                using var part = all.narrow(0, off, size);
                return part.clone();
            });
        });
        var result = new PickleReader(stream, resolver).Load();

        if (new PickleReader(stream, none).Load() is not List<object?> keys) throw new InvalidDataException("legacy torch file without its storage key list");
        var count = new byte[8];
        foreach (var k in keys)
        {
            var key = k?.ToString() ?? "";
            stream.ReadExactly(count);
            long n = BitConverter.ToInt64(count);
            if (!roots.TryGetValue(key, out var root)) throw new InvalidDataException($"legacy storage {key} is not referenced");
            if (n != root.Numel) throw new InvalidDataException($"legacy storage {key}: {n} elements, expected {root.Numel}");
            // Without the element size of an unsupported storage type we cannot skip past its bytes.
            if (root.Type is null && n > 0) throw new InvalidDataException($"legacy file with unsupported storage type {root.TypeName}");
            long bytes = checked(n * (root.Type?.Size ?? 0));
            if (bytes > stream.Length - stream.Position)
                throw new InvalidDataException($"truncated file: legacy storage {key} needs {bytes} bytes, {stream.Length - stream.Position} are left");
            offsets[key] = stream.Position;
            stream.Seek(bytes, SeekOrigin.Current);
        }
        return result;
    }

    /// <summary>
    /// Writes <paramref name="entries"/> as <c>torch.save(OrderedDict)</c> does: a zip (stored, no compression) with
    /// <c>archive/data.pkl</c> (pickle protocol 2 of an OrderedDict of <c>_rebuild_tensor_v2</c> calls), one
    /// <c>archive/data/&lt;i&gt;</c> per tensor, <c>archive/byteorder</c> and <c>archive/version</c>. Uses only globals
    /// that <c>torch.load(weights_only=True)</c> accepts.
    /// </summary>
    public static void WriteZip(Stream output, IReadOnlyList<KeyValuePair<string, Tensor>> entries, string what)
    {
        const string prefix = "archive/";
        var types = entries.Select(kv => TensorBytes.Of(kv.Value.dtype, $"{what}: {kv.Key}")).ToArray();
        using var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        using (var pkl = zip.CreateEntry(prefix + "data.pkl", CompressionLevel.NoCompression).Open())
        using (var buffered = new BufferedStream(pkl))
        {
            var p = new PickleWriter(buffered);
            p.Proto(2);
            p.Global("collections", "OrderedDict");
            p.EmptyTuple();
            p.Reduce();
            p.Mark();
            for (int i = 0; i < entries.Count; i++)
            {
                var shape = entries[i].Value.shape;
                p.String(entries[i].Key);
                p.Global("torch._utils", "_rebuild_tensor_v2");
                p.Mark();
                p.Mark();
                p.String("storage");
                p.Global("torch", types[i].TorchStorage);
                p.String(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                p.String("cpu");
                p.Int(entries[i].Value.numel());
                p.Tuple();
                p.BinPersId();
                p.Int(0);
                p.IntTuple(shape);
                p.IntTuple(TensorRef.ContiguousStride(shape));
                p.False();
                p.Global("collections", "OrderedDict"); // backward_hooks
                p.EmptyTuple();
                p.Reduce();
                p.Tuple();
                p.Reduce();
            }
            p.SetItems();
            p.Stop();
        }
        WriteText(zip, prefix + "byteorder", "little");
        for (int i = 0; i < entries.Count; i++)
        {
            using var data = zip.CreateEntry($"{prefix}data/{i}", CompressionLevel.NoCompression).Open();
            TensorBytes.Write(entries[i].Value, data);
        }
        WriteText(zip, prefix + "version", "3\n");
    }

    static void WriteText(ZipArchive zip, string name, string text)
    {
        using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(Encoding.ASCII.GetBytes(text));
    }
}
