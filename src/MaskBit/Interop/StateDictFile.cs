namespace MaskBit.Interop;

/// <summary>
/// A checkpoint opened for reading one tensor at a time. Keys and shapes come from the file's index (the pickle of a
/// <c>torch.save</c> file, the header of a safetensors file) without reading any tensor data; <see cref="Read"/> reads
/// one tensor. Loading a model through it (<see cref="Checkpoint.LoadInto(nn.Module, StateDictFile, IReadOnlyDictionary{string, string}?, Func{string, bool}?)"/>)
/// holds one of the file's tensors at a time beside the model, never a second copy of all its weights (the official
/// generator's are 1.2 GB). The file stays open until disposed. Formats and checks are those of
/// <see cref="Checkpoint.ReadStateDict"/>: a Lightning checkpoint's <c>state_dict</c> is unwrapped, non-tensor
/// entries are skipped, a folder stands for its <c>pytorch_model.bin</c>.
/// </summary>
public sealed class StateDictFile : IDisposable
{
    readonly Stream _stream;
    readonly OrderedDictionary<string, (long[] Shape, Func<Tensor> Read)> _entries;

    StateDictFile(string path, Stream stream, OrderedDictionary<string, (long[], Func<Tensor>)> entries, IReadOnlyDictionary<string, string> metadata, bool isSafeTensors)
    {
        (Path, _stream, _entries, Metadata, IsSafeTensors) = (path, stream, entries, metadata, isSafeTensors);
        Keys = [.. entries.Keys];
    }

    /// <summary>The file (a folder's <c>pytorch_model.bin</c>, not the folder).</summary>
    public string Path { get; }
    /// <summary>The safetensors <c>__metadata__</c> map (empty for <c>torch.save</c> files).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>True for a safetensors file, false for a <c>torch.save</c> one.</summary>
    public bool IsSafeTensors { get; }
    /// <summary>The tensors' keys in file order.</summary>
    public IReadOnlyList<string> Keys { get; }
    public int Count => _entries.Count;
    public bool ContainsKey(string key) => _entries.ContainsKey(key);

    /// <summary>The shape of tensor <paramref name="key"/>, without reading it.</summary>
    public long[] Shape(string key) => Entry(key).Shape;

    /// <summary>A new CPU tensor with the values of <paramref name="key"/> (the caller disposes it).</summary>
    public Tensor Read(string key)
    {
        var entry = Entry(key);
        return Checkpoint.Guard(Path, () =>
        {
            try
            {
                return entry.Read();
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{key}: {e.Message}", e);
            }
        });
    }

    (long[] Shape, Func<Tensor> Read) Entry(string key) =>
        _entries.TryGetValue(key, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor {key}");

    /// <summary>Opens a <c>torch.save</c> (zip or legacy) or safetensors file, recognised by content, and reads its index.</summary>
    public static StateDictFile Open(string path)
    {
        if (Directory.Exists(path)) path = System.IO.Path.Combine(path, "pytorch_model.bin");
        var file = Checkpoint.Guard(path, () => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16));
        try
        {
            return Checkpoint.Guard(path, () => Index(path, file));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    static StateDictFile Index(string path, FileStream file)
    {
        var head = new byte[16];
        int got = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        file.Position = 0;
        var h = head.AsSpan(0, got);
        var entries = new OrderedDictionary<string, (long[], Func<Tensor>)>();
        if (TorchFile.IsZip(h) || TorchFile.IsLegacy(h))
        {
            var top = TorchFile.IsZip(h) ? TorchFile.ReadZip(new ZipReader(file)) : TorchFile.ReadLegacy(file);
            if (top is not PickleDict dict) throw new InvalidDataException($"file holds a {PickleReader.Describe(top)}, not a state dict");
            if (dict.TryGet("state_dict", out var inner) && inner is PickleDict sd) dict = sd;
            foreach (var (key, value) in dict.Items)
                if (key is string name && value is TensorRef t && !entries.TryAdd(name, (t.Shape, t.Materialize)))
                    throw new InvalidDataException($"key {name} appears twice");
            return new StateDictFile(path, file, entries, new Dictionary<string, string>(), isSafeTensors: false);
        }
        if (!SafeTensorsFile.Looks(h, file.Length)) throw new InvalidDataException("not a PyTorch or safetensors checkpoint (unrecognised content)");
        var (index, metadata, dataStart) = SafeTensorsFile.Index(file);
        foreach (var e in index) entries.Add(e.Name, (e.Shape, () => SafeTensorsFile.ReadEntry(file, dataStart, e)));
        return new StateDictFile(path, file, entries, metadata, isSafeTensors: true);
    }

    /// <summary>Every tensor read into memory, in file order (the caller disposes them).</summary>
    public OrderedDictionary<string, Tensor> ReadAll()
    {
        var result = new OrderedDictionary<string, Tensor>();
        try
        {
            foreach (var key in _entries.Keys) result.Add(key, Read(key));
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    public void Dispose() => _stream.Dispose();
}
