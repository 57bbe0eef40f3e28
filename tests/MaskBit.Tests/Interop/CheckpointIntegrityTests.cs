using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using MaskBit.Interop;
using static TorchSharp.torch;

namespace MaskBit.Tests.Interop;

/// <summary>Damaged zip and safetensors files are refused with one line naming the file and what is wrong.</summary>
public sealed class CheckpointIntegrityTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("maskbit-integrity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static string GoldenModel => Path.Combine(Golden.RepoRoot, "tests", "golden", "generator_lfqbert_small", "model.bin");

    string Message(string path) => Assert.Throws<CheckpointException>(() => Checkpoint.ReadStateDict(path)).Message;

    /// <summary>A copy of <paramref name="source"/> with <paramref name="change"/> applied to its bytes.</summary>
    string Damaged(string source, string name, Action<byte[], ZipReader> change)
    {
        var bytes = File.ReadAllBytes(source);
        using (var s = new MemoryStream(bytes, writable: false)) change(bytes, new ZipReader(s));
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Where the entry's data begins (after its local header, name and extra field).</summary>
    static long DataStart(byte[] bytes, ZipEntry e) =>
        e.LocalHeaderOffset + 30 + BitConverter.ToUInt16(bytes, (int)e.LocalHeaderOffset + 26) + BitConverter.ToUInt16(bytes, (int)e.LocalHeaderOffset + 28);

    [Fact]
    public void FlippedByteInAStorage_RefusedNamingKeyEntryAndCrcs()
    {
        var source = Path.Combine(_dir, "ours.bin");
        Checkpoint.WriteStateDict(source, [new("a", ones(3)), new("w", arange(100, ScalarType.Float32))]);
        var path = Damaged(source, "flipped.bin", (b, zip) => b[DataStart(b, zip.Find("archive/data/1")!) + 200] ^= 0x10);
        Assert.Matches($@"^{Regex.Escape(path)}: w: CRC-32 mismatch in zip entry archive/data/1 \(expected [0-9a-f]{{8}}, got [0-9a-f]{{8}}\)$", Message(path));
    }

    [Fact]
    public void FlippedByteInThePickle_Refused()
    {
        // PyTorch's own file: entries followed by data descriptors, zip64 end record
        var path = Damaged(GoldenModel, "pickle.bin", (b, zip) => b[DataStart(b, zip.Find("model/data.pkl")!) + 100] ^= 1);
        Assert.Matches($@"^{Regex.Escape(path)}: CRC-32 mismatch in zip entry model/data.pkl \(expected [0-9a-f]{{8}}, got [0-9a-f]{{8}}\)$", Message(path));
    }

    [Fact]
    public void SizesThatDisagreeWithTheCentralDirectory_Refused()
    {
        // our writer puts sizes into the local header
        var ours = Path.Combine(_dir, "ours.bin");
        Checkpoint.WriteStateDict(ours, [new("w", arange(10, ScalarType.Float32))]);
        var local = Damaged(ours, "local.bin", (b, zip) => b[zip.Find("archive/data/0")!.LocalHeaderOffset + 22]++);
        Assert.Equal($"{local}: w: zip entry archive/data/0: local header says 41 bytes (40 stored), CRC-32 {Crc("archive/data/0", ours)}; " +
                     $"the central directory says 40 bytes (40 stored), CRC-32 {Crc("archive/data/0", ours)}", Message(local));

        // PyTorch's writer puts them into the data descriptor after the data (signature, CRC-32, sizes)
        var descriptor = Damaged(GoldenModel, "descriptor.bin", (b, zip) =>
        {
            var e = zip.Find("model/data.pkl")!;
            b[DataStart(b, e) + e.CompressedLength + 8]++;
        });
        Assert.Contains(": zip entry model/data.pkl: data descriptor says 5346 bytes (5347 stored)", Message(descriptor));
    }

    static string Crc(string entry, string path)
    {
        using var s = File.OpenRead(path);
        return $"{new ZipReader(s).Find(entry)!.Crc32:x8}";
    }

    [Fact]
    public void TruncatedOrPaddedZip_Refused()
    {
        var bytes = File.ReadAllBytes(GoldenModel);
        foreach (var (name, content) in new[] { ("cut-end.bin", bytes[..^1]), ("cut-half.bin", bytes[..(bytes.Length / 2)]), ("padded.bin", [.. bytes, 0]) })
        {
            var path = Path.Combine(_dir, name);
            File.WriteAllBytes(path, content);
            Assert.Equal($"{path}: zip end record missing at the end of the file (truncated?)", Message(path));
        }
    }

    [Fact]
    public void DeflatedEntries_ReadAndChecked()
    {
        // torch never compresses, but a re-zipped checkpoint may be deflated
        var source = Path.Combine(_dir, "stored.bin");
        Checkpoint.WriteStateDict(source, [new("w", arange(1000, ScalarType.Float32))]);
        var deflated = Path.Combine(_dir, "deflated.bin");
        using (var input = ZipFile.OpenRead(source))
        using (var output = ZipFile.Open(deflated, ZipArchiveMode.Create))
            foreach (var e in input.Entries)
            {
                using var from = e.Open();
                using var to = output.CreateEntry(e.FullName, CompressionLevel.Optimal).Open();
                from.CopyTo(to);
            }
        Assert.Equal(arange(1000, ScalarType.Float32).data<float>().ToArray(), Checkpoint.ReadStateDict(deflated)["w"].data<float>().ToArray());

        var damaged = Damaged(deflated, "damaged.bin", (b, zip) =>
        {
            var e = zip.Find("archive/data/0")!;
            Assert.Equal(8, e.Method);
            b[DataStart(b, e) + e.CompressedLength / 2] ^= 0x40;
        });
        Assert.StartsWith($"{damaged}: w: ", Message(damaged)); // a deflate error or a CRC-32 mismatch, depending on the byte
    }

    [Fact]
    public void PyTorchEntriesWithDataDescriptors_ReadWhole()
    {
        using var s = File.OpenRead(GoldenModel);
        var zip = new ZipReader(s);
        Assert.All(zip.Entries, e => Assert.True(e.HasDataDescriptor));
        foreach (var e in zip.Entries) Assert.Equal(e.Length, zip.ReadAll(e).Length);
    }

    /// <summary>A safetensors file with the given header and <paramref name="dataBytes"/> zero bytes of data.</summary>
    string SafeTensors(string name, byte[] header, int dataBytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[dataBytes]]);
        return path;
    }

    /// <summary>The header as the format writes it: UTF-8 JSON padded with spaces to a multiple of 8 bytes.</summary>
    static byte[] Padded(string json) => Encoding.UTF8.GetBytes(json + new string(' ', (8 - json.Length % 8) % 8));

    [Theory]
    [InlineData("""{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}""", 4, "tensor a: unsupported dtype F33")]
    [InlineData("""{"a":{"shape":[1],"data_offsets":[0,4]}}""", 4, "tensor a: no dtype string")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "tensor a: shape is not a list of non-negative integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", 4, "tensor a: shape is not a list of non-negative integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4, "tensor a: data_offsets is not [begin, end] with 0 <= begin <= end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""", 4, "tensor a: data_offsets is not [begin, end] with 0 <= begin <= end")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", 4, "tensor a: data_offsets [0, 4] span 4 bytes, shape [2] F32 needs 8")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}""", 4, "tensor a: shape [4611686018427387904] too large")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "tensor a: data_offsets [4, 8] leave a gap after byte 0")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12, "tensor b: data_offsets [8, 12] leave a gap after byte 4")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "tensor b: data_offsets [4, 8] overlap tensor a (ends at 8)")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, "tensor a: data ends at byte 4 of the data section, which has 8 bytes (trailing bytes)")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "tensor a: data ends at byte 8 of the data section, which has 4 bytes (truncated file)")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "tensor a: appears twice in the safetensors header")]
    [InlineData("""{"__metadata__":{"format":1}}""", 0, "safetensors __metadata__ format is not a string")]
    [InlineData("""{}""", 4, "safetensors file without tensors has 4 data bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}""", 4, "invalid safetensors header: ")]
    public void InvalidSafeTensorsHeader_RefusedBeforeAnyTensorIsRead(string json, int dataBytes, string expected)
    {
        var path = SafeTensors("bad.safetensors", Padded(json), dataBytes);
        var message = Message(path);
        Assert.StartsWith($"{path}: {expected}", message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void SafeTensorsHeaderWithInvalidUtf8_Refused()
    {
        var path = SafeTensors("utf8.safetensors", [.. """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"""u8, 0xC3, .. "\":1}"u8], 4);
        Assert.Equal($"{path}: invalid safetensors header: not UTF-8", Message(path));
    }

    [Fact]
    public void ValidSafeTensorsLayouts_Read()
    {
        // zero-size tensors share an offset with their neighbours; header order need not be offset order
        var path = SafeTensors("ok.safetensors", Padded(
            """{"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"""), 8);
        var sd = Checkpoint.ReadStateDict(path);
        Assert.Equal(["b", "e", "a"], sd.Keys);
        Assert.Equal([0L, 3L], sd["e"].shape);
    }
}
