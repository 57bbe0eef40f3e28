using System.Text.Json;
using MaskBit.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace MaskBit.Tests.Interop;

public class CheckpointTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("maskbit-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static string Fixture(string name) => Path.Combine(Golden.RepoRoot, "tests", "fixtures", "interop", name);

    static string TorchName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32", ScalarType.Float64 => "float64", ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16", ScalarType.Int64 => "int64", ScalarType.Int32 => "int32",
        ScalarType.Int16 => "int16", ScalarType.Int8 => "int8", ScalarType.Byte => "uint8", ScalarType.Bool => "bool",
        _ => t.ToString(),
    };

    /// <summary>Every golden case folder holding <paramref name="file"/> (any kind).</summary>
    public static TheoryData<string> FoldersWith(string file)
    {
        var data = new TheoryData<string>();
        foreach (var d in Directory.GetDirectories(Golden.Dir).OrderBy(x => x, StringComparer.Ordinal))
            if (File.Exists(Path.Combine(d, "case.json")) && File.Exists(Path.Combine(d, file))) data.Add(Path.GetFileName(d));
        return data;
    }

    public static TheoryData<string> ModelFolders => FoldersWith("model.bin");
    public static TheoryData<string> TensorFolders => FoldersWith("tensors.pt");

    static void AssertEntries(IEnumerable<(string Key, long[] Shape, string DType)> expected, OrderedDictionary<string, Tensor> actual, string what)
    {
        var exp = expected.ToList();
        Assert.Equal(exp.Select(e => e.Key), actual.Keys); // same keys, same order
        foreach (var (key, shape, dtype) in exp)
        {
            Assert.True(shape.SequenceEqual(actual[key].shape), $"{what}:{key} shape [{string.Join(",", actual[key].shape)}] != [{string.Join(",", shape)}]");
            Assert.Equal(dtype, TorchName(actual[key].dtype));
        }
    }

    [Theory]
    [MemberData(nameof(ModelFolders))]
    public void GoldenModelBin_KeysShapesDtypesInOrder(string folder)
    {
        var json = Golden.Case(folder).Json;
        var entries = json.GetProperty("files").GetProperty("model.bin").GetProperty("entries").EnumerateArray()
            .Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray(), e[2].GetString()!));
        var sd = Checkpoint.ReadStateDict(Path.Combine(Golden.Dir, folder, "model.bin"));
        AssertEntries(entries, sd, folder);
    }

    [Theory]
    [MemberData(nameof(TensorFolders))]
    public void GoldenTensorsPt_MatchCaseJsonAndScalars(string folder)
    {
        var json = Golden.Case(folder).Json;
        var entries = json.GetProperty("tensors").EnumerateObject()
            .Select(p => (p.Name, p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(), p.Value.GetProperty("dtype").GetString()!));
        var sd = Checkpoint.ReadStateDict(Path.Combine(Golden.Dir, folder, "tensors.pt"));
        AssertEntries(entries, sd, folder);
        if (!json.TryGetProperty("scalars", out var scalars)) return;
        foreach (var s in scalars.EnumerateObject())
        {
            var t = sd[s.Name];
            if (t.dtype == ScalarType.Int64) Assert.Equal(s.Value.GetInt64(), t.item<long>());
            else Assert.Equal((float)s.Value.GetDouble(), t.item<float>()); // float32 printed exactly
        }
    }

    /// <summary>arange(n) * 0.25 + start in float64, cast and reshaped: what make_fixtures.py's ramp() writes.</summary>
    static Tensor Ramp(long[] shape, double start = 0, ScalarType dtype = ScalarType.Float32) =>
        (arange(shape.Aggregate(1L, (a, b) => a * b), ScalarType.Float64) * 0.25 + start).to(dtype).reshape(shape);

    static void AssertSame(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: shape [{string.Join(",", actual.shape)}] != [{string.Join(",", expected.shape)}]");
        Assert.True(expected.contiguous().bytes.SequenceEqual(actual.contiguous().bytes), $"{what}: values differ");
    }

    [Theory]
    [InlineData("views.pt")]
    [InlineData("views_legacy.pt")]
    [InlineData("views_zip64.pt")] // views.pt repacked with every zip64 field (make_zip64.py)
    public void TorchFileWithViewsAndAllDtypes_ReadsValues(string name)
    {
        using var scope = NewDisposeScope();
        var sd = Checkpoint.ReadStateDict(Fixture(name));
        var b = Ramp([4, 6]);
        var expected = new (string, Tensor)[]
        {
            ("base", b), ("transposed", b.t()), ("slice", b[1..3, TensorIndex.Slice(null, null, 2)]), ("row", b[2]),
            ("scalar_view", b[3, 5]), ("expanded", Ramp([3], 1.0).expand(2, 3)), ("param", Ramp([2, 3], -1.0)),
            ("f64", Ramp([3], 0.1, ScalarType.Float64)), ("f16", Ramp([5], -0.5, ScalarType.Float16)),
            ("bf16", Ramp([5], 2.0, ScalarType.BFloat16)),
            ("i64", arange(-2, 3, ScalarType.Int64) * 3_000_000_000L), ("i32", arange(-2, 3, ScalarType.Int32)),
            ("i16", arange(-2, 3, ScalarType.Int16)), ("i8", arange(-2, 3, ScalarType.Int8)),
            ("u8", arange(250, 255, ScalarType.Byte)), ("bool", tensor(new[] { true, false, true })), ("empty", zeros(0, 3)),
        };
        Assert.Equal(expected.Select(e => e.Item1), sd.Keys);
        foreach (var (key, t) in expected) AssertSame(t, sd[key], $"{name}:{key}");
        Assert.Equal(0, sd["scalar_view"].dim());
    }

    static nn.Module<Tensor, Tensor> Mlp(long inputs = 4) =>
        nn.Sequential(("0", nn.Linear(inputs, 3)), ("1", nn.ReLU()), ("2", nn.Linear(3, 2)));

    [Fact]
    public void LightningCheckpoint_UnwrapsStateDictAndLoadsWithLossKeysDropped()
    {
        var path = Fixture("lightning.ckpt");
        var sd = Checkpoint.ReadStateDict(path);
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias", "loss.logvar", "loss.discriminator.main.0.weight"], sd.Keys);

        var model = Mlp();
        var ex = Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(model, path));
        Assert.Equal($"{path}: 2 unexpected keys (loss.logvar, loss.discriminator.main.0.weight)", ex.Message);

        Checkpoint.LoadInto(model, path, dropKey: k => k.StartsWith("loss.", StringComparison.Ordinal));
        var p = model.state_dict();
        AssertSame(Ramp([3, 4]), p["0.weight"], "0.weight");
        AssertSame(Ramp([3], -1.0), p["0.bias"], "0.bias");
        AssertSame(Ramp([2, 3], 10.0), p["2.weight"], "2.weight");
        AssertSame(Ramp([2], -5.0), p["2.bias"], "2.bias");
    }

    [Fact]
    public void LightningCheckpoint_NonTensorObjectsAreReadAsData()
    {
        using var file = File.OpenRead(Fixture("lightning.ckpt"));
        var top = Assert.IsType<PickleDict>(TorchFile.ReadZip(new ZipReader(file)));
        object? Get(PickleDict d, object key) => d.TryGet(key, out var v) ? v : throw new KeyNotFoundException(key.ToString());

        Assert.Equal(7L, Get(top, "epoch"));
        var callback = Assert.IsType<PickleObject>(Get(top, "callback_instance"));
        Assert.Equal(new PickleGlobal("__main__", "Callback"), callback.Type);
        Assert.Equal(0.5, Get(Assert.IsType<PickleDict>(callback.State), "best"));
        Assert.True(Assert.IsType<PickleDict>(Get(top, "callbacks")).TryGet(new PickleGlobal("__main__", "Callback"), out _));

        var adam = Assert.IsType<PickleDict>(Assert.IsType<List<object?>>(Get(top, "optimizer_states"))[0]);
        var state0 = Assert.IsType<PickleDict>(Get(Assert.IsType<PickleDict>(Get(adam, "state")), 0L));
        using var avgSq = Assert.IsType<TensorRef>(Get(state0, "exp_avg_sq")).Materialize();
        AssertSame(ones(3, 4), avgSq, "exp_avg_sq");
        var group = Assert.IsType<PickleDict>(Assert.IsType<List<object?>>(Get(adam, "param_groups"))[0]);
        Assert.Equal(new object?[] { 0.5, 0.9 }, Assert.IsType<object?[]>(Get(group, "betas")));

        var hp = Assert.IsType<PickleDict>(Get(top, "hyper_parameters"));
        Assert.Equal(System.Numerics.BigInteger.Pow(2, 70), Get(hp, "big"));
        var misc = Assert.IsType<object?[]>(Get(hp, "misc")); // (None, True, b"\x00\x01", 1.5, -7)
        Assert.Equal([null, true], misc[..2]);
        Assert.Equal(new PickleGlobal("_codecs", "encode"), Assert.IsType<PickleObject>(misc[2]).Type); // protocol 2 pickles bytes this way
        Assert.Equal([1.5, -7L], misc[3..]);
        Assert.Equal(new PickleGlobal("torch", "device"), Assert.IsType<PickleObject>(Get(top, "device")).Type);
    }

    static OrderedDictionary<string, Tensor> Sample()
    {
        var b = arange(24, ScalarType.Float32).reshape(4, 6) / 7;
        return new()
        {
            ["f32"] = b, ["transposed"] = b.t(), ["strided"] = b[.., TensorIndex.Slice(1, null, 2)], ["scalar"] = tensor(3.25f),
            ["i32"] = arange(-3, 3, ScalarType.Int32), ["i64"] = tensor(new[] { long.MinValue, -1, 0, long.MaxValue }),
            ["bool"] = tensor(new[] { true, false, false, true }), ["f16"] = (b / 3).to(ScalarType.Float16),
            ["bf16"] = (b * 3).to(ScalarType.BFloat16), ["f64"] = b.to(ScalarType.Float64) / 3, ["u8"] = arange(250, 256, ScalarType.Byte),
            ["empty"] = zeros(0, 5), ["nan"] = tensor(new[] { float.NaN, float.NegativeInfinity, -0f }),
        };
    }

    [Theory]
    [InlineData("round.bin")]
    [InlineData("round.safetensors")]
    public void WriteThenRead_BitIdenticalInOrder(string name)
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(_dir, name);
        var sample = Sample();
        Checkpoint.WriteStateDict(path, sample);
        var back = Checkpoint.ReadStateDict(path);
        Assert.Equal(sample.Keys, back.Keys);
        foreach (var (k, t) in sample) AssertSame(t, back[k], $"{name}:{k}");
        Assert.Equal([name], Directory.GetFiles(_dir).Select(Path.GetFileName)); // no temp file left

        Checkpoint.WriteStateDict(path, [new("only", ones(2))]); // overwrites
        Assert.Equal(["only"], Checkpoint.ReadStateDict(path).Keys);
    }

    [Theory]
    [InlineData("model.bin")]
    [InlineData("model.safetensors")]
    public void SaveThenLoadInto_RestoresModuleAndConvertsHalfFiles(string name)
    {
        var path = Path.Combine(_dir, name);
        var source = Mlp();
        Checkpoint.Save(source, path);
        var target = Mlp();
        Checkpoint.LoadInto(target, path);
        foreach (var (k, t) in source.state_dict()) AssertSame(t, target.state_dict()[k], k);

        // an fp16 file into an fp32 module: values are the fp16 ones, dtype stays fp32
        Checkpoint.WriteStateDict(path, source.state_dict().Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float16))));
        Checkpoint.LoadInto(target, path);
        foreach (var (k, t) in source.state_dict()) AssertSame(t.to(ScalarType.Float16).to(ScalarType.Float32), target.state_dict()[k], k);
    }

    [Theory]
    [InlineData("lazy.bin")]
    [InlineData("lazy.safetensors")]
    public void StateDictFile_IndexesWithoutReadingAndReadsOneTensorAtATime(string name)
    {
        var path = Path.Combine(_dir, name);
        using var scope = NewDisposeScope();
        var big = arange(100_000, dtype: float32);
        var small = tensor(new long[] { 1, 2, 3 }).reshape(1, 3);
        Checkpoint.WriteStateDict(path, [KeyValuePair.Create("small", small), KeyValuePair.Create("big", big)]);
        using (var file = StateDictFile.Open(path))
        {
            Assert.Equal(["small", "big"], file.Keys);
            Assert.Equal([1L, 3L], file.Shape("small"));
            Assert.Equal([100_000L], file.Shape("big"));
            Assert.True(file.Read("big").equal(big).all().item<bool>());
            Assert.True(file.Read("small").equal(small).all().item<bool>());
            Assert.Contains("no tensor missing", Assert.Throws<KeyNotFoundException>(() => file.Read("missing")).Message);
        }
        // A damaged byte inside "big": the index still opens and "small" still reads; reading "big" fails in one line
        // naming the file and the tensor (zip: its CRC-32), or, for safetensors (no checksum), reads changed values.
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        using (var file = StateDictFile.Open(path))
        {
            Assert.True(file.Read("small").equal(small).all().item<bool>());
            if (name.EndsWith(".bin"))
            {
                var e = Assert.Throws<CheckpointException>(() => file.Read("big"));
                Assert.Contains(path, e.Message);
                Assert.Contains("big", e.Message);
                Assert.DoesNotContain('\n', e.Message);
            }
            else Assert.False(file.Read("big").equal(big).all().item<bool>());
        }
    }

    [Fact]
    public void LoadInto_StrictErrorsAreOneLineWithKeysAndShapes()
    {
        var path = Path.Combine(_dir, "model.bin");
        Checkpoint.Save(Mlp(), path);

        var bigger = nn.Sequential(("0", nn.Linear(4, 3)), ("1", nn.ReLU()), ("2", nn.Linear(3, 2)), ("3", nn.ReLU()), ("4", nn.Linear(2, 1)));
        Assert.Equal($"{path}: 2 missing keys (4.weight, 4.bias)", Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(bigger, path)).Message);

        var smaller = nn.Sequential(("0", nn.Linear(4, 3)));
        Assert.Equal($"{path}: 2 unexpected keys (2.weight, 2.bias)", Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(smaller, path)).Message);

        var other = nn.Sequential(("0", nn.Linear(4, 3)), ("5", nn.Linear(3, 2)));
        Assert.Equal($"{path}: 2 missing keys (5.weight, 5.bias), 2 unexpected (2.weight, 2.bias)",
            Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(other, path)).Message);

        Assert.Equal($"{path}: 0.weight has shape [3, 4], model expects [3, 5]",
            Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(Mlp(5), path)).Message);
        var wide = nn.Sequential(("0", nn.Linear(4, 5)), ("1", nn.ReLU()), ("2", nn.Linear(5, 2)));
        Assert.Equal($"{path}: 0.weight has shape [3, 4], model expects [5, 4] (and 2 more shape mismatches)",
            Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(wide, path)).Message);

        var many = nn.Sequential(Enumerable.Range(0, 8).Select(i => ($"{i}", (nn.Module<Tensor, Tensor>)nn.Linear(1, 1))).ToArray());
        var manyPath = Path.Combine(_dir, "many.bin");
        Checkpoint.Save(many, manyPath);
        Assert.Equal($"{manyPath}: 14 unexpected keys (1.weight, 1.bias, 2.weight, 2.bias, 3.weight, ...)",
            Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(nn.Sequential(("0", nn.Linear(1, 1))), manyPath)).Message);
    }

    [Fact]
    public void LoadInto_ToleratesOnlyAMissingBatchNormCounter()
    {
        var path = Path.Combine(_dir, "bn.bin");
        var source = nn.Sequential(("0", nn.BatchNorm1d(3)));
        using (no_grad()) source.state_dict()["0.running_mean"].fill_(2);
        Assert.Contains("0.num_batches_tracked", source.state_dict().Keys);
        Checkpoint.WriteStateDict(path, source.state_dict().Where(kv => kv.Key != "0.num_batches_tracked"));
        var target = nn.Sequential(("0", nn.BatchNorm1d(3)));
        Checkpoint.LoadInto(target, path); // old torchvision files lack the counter
        AssertSame(full(3, 2f), target.state_dict()["0.running_mean"], "running_mean");

        Checkpoint.WriteStateDict(path, source.state_dict().Where(kv => kv.Key != "0.running_var"));
        Assert.Equal($"{path}: 1 missing key (0.running_var)", Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(target, path)).Message);
    }

    [Fact]
    public void RenamePrefixes_ReplaceLikeTheOriginalLoader()
    {
        var path = Path.Combine(_dir, "released.bin");
        var model = Mlp();
        // the released generator naming: input_proj.* is stored as token_emb.*
        Checkpoint.Save(model, path, new Dictionary<string, string> { ["0."] = "token_emb." });
        Assert.Equal(["token_emb.weight", "token_emb.bias", "2.weight", "2.bias"], Checkpoint.ReadStateDict(path).Keys);

        var ex = Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(Mlp(), path));
        Assert.Equal($"{path}: 2 missing keys (0.weight, 0.bias), 2 unexpected (token_emb.weight, token_emb.bias)", ex.Message);

        var target = Mlp();
        Checkpoint.LoadInto(target, path, new Dictionary<string, string> { ["token_emb"] = "0" });
        AssertSame(model.state_dict()["0.weight"], target.state_dict()["0.weight"], "0.weight");

        // str.replace semantics: every occurrence in a key that starts with the prefix, keys not starting with it untouched
        Checkpoint.WriteStateDict(path, [new("ab.ab", ones(1)), new("x.ab", zeros(1))]);
        var probe = nn.Sequential(("cd", new Holder(("cd", 1))), ("x", new Holder(("ab", 1))));
        Checkpoint.LoadInto(probe, path, new Dictionary<string, string> { ["ab"] = "cd" });
        Assert.Equal(1f, probe.state_dict()["cd.cd"].item<float>());
    }

    /// <summary>A module with named buffers, to build arbitrary state-dict keys.</summary>
    sealed class Holder : nn.Module<Tensor, Tensor>
    {
        public Holder(params (string Name, long Size)[] buffers) : base("Holder")
        {
            foreach (var (n, s) in buffers) register_buffer(n, zeros(s));
        }

        public override Tensor forward(Tensor x) => x;
    }

    [Fact]
    public void NonCheckpointInput_OneLineCheckpointException()
    {
        var valid = Path.Combine(_dir, "valid.bin");
        Checkpoint.Save(Mlp(), valid);
        var validSt = Path.Combine(_dir, "valid.safetensors");
        Checkpoint.Save(Mlp(), validSt);
        var bytes = File.ReadAllBytes(valid);
        var stBytes = File.ReadAllBytes(validSt);

        var cases = new (string Name, byte[]? Content, string Expect)[]
        {
            ("missing.bin", null, "not found"),
            ("text.bin", "hello, this is not a checkpoint\n"u8.ToArray(), "unrecognised content"),
            ("empty.bin", [], "unrecognised content"),
            ("image.png", [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R', 0, 0], "unrecognised content"),
            ("truncated.bin", bytes[..(bytes.Length / 2)], ""),
            ("truncated.safetensors", stBytes[..(stBytes.Length - 10)], "truncated file"),
            ("badheader.safetensors", [.. BitConverter.GetBytes(4L), .. "{\"a\""u8.ToArray()], "invalid safetensors header"),
        };
        foreach (var (name, content, expect) in cases)
        {
            var path = Path.Combine(_dir, name);
            if (content is not null) File.WriteAllBytes(path, content);
            var ex = Assert.Throws<CheckpointException>(() => Checkpoint.ReadStateDict(path));
            Assert.StartsWith(path + ": ", ex.Message);
            Assert.Contains(expect, ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
            Assert.Throws<CheckpointException>(() => Checkpoint.LoadInto(Mlp(), path));
        }

        // a zip that is not a torch file, and a torch zip whose storage is missing
        var zipPath = Path.Combine(_dir, "other.zip");
        using (var z = System.IO.Compression.ZipFile.Open(zipPath, System.IO.Compression.ZipArchiveMode.Create))
            using (var w = new StreamWriter(z.CreateEntry("readme.txt").Open())) w.Write("hi");
        Assert.Contains("data.pkl", Assert.Throws<CheckpointException>(() => Checkpoint.ReadStateDict(zipPath)).Message);
        var broken = Path.Combine(_dir, "broken.bin");
        File.Copy(valid, broken);
        using (var z = System.IO.Compression.ZipFile.Open(broken, System.IO.Compression.ZipArchiveMode.Update)) z.GetEntry("archive/data/0")!.Delete();
        Assert.Equal($"{broken}: 0.weight: storage archive/data/0 missing from the archive", Assert.Throws<CheckpointException>(() => Checkpoint.ReadStateDict(broken)).Message);
    }

    [Fact]
    public void WriteStateDict_RejectsDuplicateKeysAndCreatesMissingFolders()
    {
        var path = Path.Combine(_dir, "dup.bin");
        Assert.Equal($"{path}: key a given twice", Assert.Throws<CheckpointException>(() => Checkpoint.WriteStateDict(path, [new("a", ones(1)), new("a", ones(1))])).Message);
        Assert.Empty(Directory.GetFiles(_dir));
        var nested = Path.Combine(_dir, "new", "folder", "x.bin");
        Checkpoint.WriteStateDict(nested, [new("a", ones(1))]);
        Assert.Equal(["a"], Checkpoint.ReadStateDict(nested).Keys);
        var blocked = Path.Combine(nested, "x.bin"); // a file stands where the folder would be
        Assert.StartsWith(blocked + ": ", Assert.Throws<CheckpointException>(() => Checkpoint.WriteStateDict(blocked, [new("a", ones(1))])).Message);
    }
}
