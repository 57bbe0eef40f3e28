namespace MaskBit.Interop;

/// <summary>A checkpoint file that cannot be read, written or matched to a module; the message is one line naming the file.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads and writes PyTorch checkpoints without Python: <c>torch.save</c> files (zip format, and the legacy pre-1.6
/// stream) through a data-only unpickler that never runs code, and safetensors.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// The flat state dict (key -> CPU tensor, file order) of a <c>torch.save</c> or safetensors file, recognised by
    /// content. A Lightning checkpoint's top-level <c>state_dict</c> is unwrapped; non-tensor entries are skipped.
    /// A folder stands for its <c>pytorch_model.bin</c> (as the original's <c>load_pretrained</c>).
    /// A damaged file is refused, never loaded with changed values, as far as its format allows: every zip entry read is
    /// checked against its CRC-32 (<see cref="ZipReader"/>), a safetensors header is validated whole before any tensor
    /// is read; the legacy format and safetensors tensor data carry no checksum (docs/checkpoints.md, "Checkpoint integrity").
    /// </summary>
    public static OrderedDictionary<string, Tensor> ReadStateDict(string path)
    {
        using var file = StateDictFile.Open(path);
        return file.ReadAll();
    }

    /// <summary>
    /// Loads a checkpoint into <paramref name="module"/> like the original's <c>load_state_dict(strict=True)</c>:
    /// keys starting with a key of <paramref name="renamePrefixes"/> get every occurrence of it replaced (the original's
    /// <c>str.replace</c>; first matching prefix wins), keys for which <paramref name="dropKey"/> is true are dropped
    /// (e.g. Taming's <c>loss.*</c>), then the keys must equal the module's parameters and persistent buffers with equal
    /// shapes. Values are copied in place, converted to each parameter's dtype and device.
    /// A missing BatchNorm <c>num_batches_tracked</c> is tolerated (old torchvision files lack it; PyTorch fills it too).
    /// </summary>
    public static void LoadInto(nn.Module module, string path, IReadOnlyDictionary<string, string>? renamePrefixes = null, Func<string, bool>? dropKey = null)
    {
        using var file = StateDictFile.Open(path);
        LoadInto(module, file, renamePrefixes, dropKey);
    }

    /// <summary>The same from an open file, one tensor at a time: keys and shapes are all checked first (from the
    /// file's index), then each tensor is read, copied into the module and freed before the next.</summary>
    public static void LoadInto(nn.Module module, StateDictFile file, IReadOnlyDictionary<string, string>? renamePrefixes = null, Func<string, bool>? dropKey = null)
    {
        using var scope = NewDisposeScope();
        var targets = Match(module, file.Keys.Select(k => (k, file.Shape(k))), file.Path, renamePrefixes, dropKey);
        using var _ = no_grad();
        foreach (var (key, target) in targets)
        {
            using var t = file.Read(key);
            target.copy_(t);
        }
    }

    /// <summary><see cref="LoadInto(nn.Module, string, IReadOnlyDictionary{string, string}?, Func{string, bool}?)"/> for a
    /// state dict already in memory, read from <paramref name="path"/> (which only names it in errors).</summary>
    public static void LoadInto(nn.Module module, OrderedDictionary<string, Tensor> file, string path,
        IReadOnlyDictionary<string, string>? renamePrefixes = null, Func<string, bool>? dropKey = null)
    {
        using var scope = NewDisposeScope();
        var targets = Match(module, file.Select(kv => (kv.Key, kv.Value.shape)), path, renamePrefixes, dropKey);
        using var _ = no_grad();
        foreach (var (key, target) in targets) target.copy_(file[key]);
    }

    /// <summary>
    /// The strict match of a file's (key, shape) list to the module's state dict, after renaming and dropping keys:
    /// each kept file key with the module tensor it fills. Missing or unexpected keys, a key renamed twice, or a shape
    /// mismatch throw one <see cref="CheckpointException"/> naming <paramref name="path"/>.
    /// </summary>
    static List<(string FileKey, Tensor Target)> Match(nn.Module module, IEnumerable<(string Key, long[] Shape)> file, string path,
        IReadOnlyDictionary<string, string>? renamePrefixes, Func<string, bool>? dropKey)
    {
        var source = new OrderedDictionary<string, (string FileKey, long[] Shape)>();
        foreach (var (key, shape) in file)
        {
            var name = RenameKey(key, renamePrefixes);
            if (dropKey?.Invoke(name) == true) continue;
            if (!source.TryAdd(name, (key, shape))) throw new CheckpointException($"{path}: two keys are renamed to {name}");
        }
        var target = module.state_dict();
        var missing = target.Keys.Where(k => !source.ContainsKey(k) && !k.EndsWith(".num_batches_tracked", StringComparison.Ordinal)).ToList();
        var unexpected = source.Keys.Where(k => !target.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"{missing.Count} missing key{(missing.Count == 1 ? "" : "s")} ({Few(missing)})");
            if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected{(missing.Count > 0 ? "" : unexpected.Count == 1 ? " key" : " keys")} ({Few(unexpected)})");
            var (fileKind, modelKind) = (KindOf(source.Keys), KindOf(target.Keys));
            var hint = fileKind is not null && modelKind is not null && fileKind != modelKind ? $" (the file holds a {fileKind}, the model is a {modelKind})" : "";
            throw new CheckpointException($"{path}: {string.Join(", ", parts)}{hint}");
        }
        var wrong = source.Where(kv => !kv.Value.Shape.SequenceEqual(target[kv.Key].shape)).ToList();
        if (wrong.Count > 0)
        {
            var (k, v) = wrong[0];
            var more = wrong.Count > 1 ? $" (and {wrong.Count - 1} more shape mismatches)" : "";
            throw new CheckpointException($"{path}: {k} has shape {Shape(v.Shape)}, model expects {Shape(target[k].shape)}{more}");
        }
        return source.Select(kv => (kv.Value.FileKey, target[kv.Key])).ToList();
    }

    /// <summary>
    /// Saves the module's state dict (parameters and persistent buffers, module order), keys renamed as in
    /// <c>LoadInto</c> (e.g. <c>{"input_proj": "token_emb"}</c> writes the released generator naming).
    /// </summary>
    public static void Save(nn.Module module, string path, IReadOnlyDictionary<string, string>? renamePrefixes = null) =>
        WriteStateDict(path, StateDict(module).Select(e => KeyValuePair.Create(RenameKey(e.Key, renamePrefixes), e.Tensor)));

    /// <summary>What kind of MaskBit model a set of state-dict keys belongs to (for error messages), or null.</summary>
    public static string? KindOf(IEnumerable<string> keys)
    {
        var set = keys.ToHashSet();
        if (set.Contains("encoder.conv_in.weight")) return "tokenizer";
        if (set.Contains("pos_emb") || set.Contains("class_emb.weight")) return "generator";
        if (set.Any(k => k.StartsWith("blocks.", StringComparison.Ordinal) || k.StartsWith("discriminator.", StringComparison.Ordinal))) return "discriminator";
        return null;
    }

    /// <summary>A state-dict entry: key, tensor, and whether it is a parameter (else a persistent buffer).</summary>
    public readonly record struct Entry(string Key, Tensor Tensor, bool IsParameter);

    /// <summary>
    /// The module's parameters and persistent buffers in PyTorch's <c>state_dict()</c> order: a module's own
    /// parameters, then its own buffers, then each child recursively. (TorchSharp's <c>state_dict()</c> lists all
    /// parameters before all buffers, e.g. LfqBert's <c>bits_to_indices</c> last instead of second.)
    /// </summary>
    public static List<Entry> StateDict(nn.Module module, string prefix = "")
    {
        var entries = new List<Entry>();
        foreach (var (name, p) in module.named_parameters(recurse: false)) entries.Add(new(prefix + name, p, true));
        foreach (var (name, b) in module.named_buffers(recurse: false, include_nonpersistent: false)) entries.Add(new(prefix + name, b, false));
        foreach (var (name, child) in module.named_children()) entries.AddRange(StateDict(child, prefix + name + "."));
        return entries;
    }

    /// <summary>
    /// Writes tensors in the given order: safetensors for a <c>.safetensors</c> path, else the zip format of
    /// <c>torch.save(OrderedDict)</c> that PyTorch opens. Any layout or device; written to a temporary file in the
    /// same folder and renamed over <paramref name="path"/>, so a reader never sees half a file.
    /// </summary>
    public static void WriteStateDict(string path, IEnumerable<KeyValuePair<string, Tensor>> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var scope = NewDisposeScope();
        var list = entries.ToList();
        var dup = list.GroupBy(kv => kv.Key).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new CheckpointException($"{path}: key {dup.Key} given twice");
        Guard(path, () =>
        {
            AtomicFile.Write(path, file =>
            {
                if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) SafeTensorsFile.Write(file, list, path, metadata);
                else if (metadata is null) TorchFile.WriteZip(file, list, path);
                else throw new ArgumentException($"{path}: metadata can only be stored in a .safetensors file");
            });
            return 0;
        });
    }

    /// <summary>The tensors and the <c>__metadata__</c> string map of a safetensors file.</summary>
    public static (OrderedDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata) ReadSafeTensors(string path)
    {
        using var file = OpenSafeTensors(path);
        return (file.ReadAll(), file.Metadata);
    }

    /// <summary>Opens a safetensors file for reading one tensor at a time (<see cref="StateDictFile"/>); any other content is refused.</summary>
    public static StateDictFile OpenSafeTensors(string path)
    {
        var file = StateDictFile.Open(path);
        if (file.IsSafeTensors) return file;
        file.Dispose();
        throw new CheckpointException($"{path}: not a safetensors file");
    }

    /// <summary>The original's rename: for the first prefix a key starts with, <c>key.replace(prefix, replacement)</c>.</summary>
    public static string RenameKey(string key, IReadOnlyDictionary<string, string>? renamePrefixes)
    {
        foreach (var (from, to) in renamePrefixes ?? new Dictionary<string, string>())
            if (key.StartsWith(from, StringComparison.Ordinal)) return key.Replace(from, to, StringComparison.Ordinal);
        return key;
    }

    /// <summary>Runs a file operation, turning every failure into a one-line <see cref="CheckpointException"/> naming <paramref name="path"/>.</summary>
    internal static T Guard<T>(string path, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (CheckpointException)
        {
            throw;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointException($"{path}: file or folder not found", e);
        }
        catch (Exception e) when (e is EndOfStreamException)
        {
            throw new CheckpointException($"{path}: truncated file (unexpected end of data)", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException
                                      or FormatException or OverflowException or System.Runtime.InteropServices.ExternalException)
        {
            throw new CheckpointException($"{path}: {OneLine(e.Message)}", e);
        }
    }

    static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();

    static string Few(List<string> keys) => string.Join(", ", keys.Take(5)) + (keys.Count > 5 ? ", ..." : "");

    static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";
}
