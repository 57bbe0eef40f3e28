using System.Security.Cryptography;
using MaskBit.Interop;

namespace MaskBit.Tests.Interop;

public sealed class FileDigestsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("maskbit-digests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Sums => Path.Combine(_dir, FileDigests.FileName);

    /// <summary>A small model folder: a config, weights, and a file in a subfolder.</summary>
    void WriteFolder()
    {
        File.WriteAllText(Path.Combine(_dir, "config.yaml"), "model: {}\n");
        File.WriteAllBytes(Path.Combine(_dir, "pytorch_model.bin"), Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray());
        Directory.CreateDirectory(Path.Combine(_dir, "extra"));
        File.WriteAllText(Path.Combine(_dir, "extra", "notes.txt"), "");
    }

    static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    string Fails() => Assert.Throws<CheckpointException>(() => FileDigests.Verify(_dir)).Message;

    [Fact]
    public void Write_ListsEveryFileInSha256sumFormat_AndVerifies()
    {
        WriteFolder();
        FileDigests.Write(_dir);
        var expected = new[] { "config.yaml", "extra/notes.txt", "pytorch_model.bin" }
            .Select(name => $"{Sha256(Path.Combine(_dir, name))}  {name}\n");
        Assert.Equal(string.Concat(expected), File.ReadAllText(Sums));
        Assert.Empty(Directory.GetFiles(_dir, ".*")); // no temporary file left
        FileDigests.Verify(_dir);

        FileDigests.Write(_dir); // rewriting does not list the digest file itself
        FileDigests.Verify(_dir);
    }

    [Fact]
    public void FlippedByte_FailsNamingTheFileAndBothDigests()
    {
        WriteFolder();
        FileDigests.Write(_dir);
        var weights = Path.Combine(_dir, "pytorch_model.bin");
        var before = Sha256(weights);
        var bytes = File.ReadAllBytes(weights);
        bytes[1234] ^= 0x01;
        File.WriteAllBytes(weights, bytes);
        Assert.Equal($"{weights}: SHA-256 differs from SHA256SUMS (expected {before}, got {Sha256(weights)})", Fails());
    }

    [Fact]
    public void MissingOrUnlistedFile_FailsNamingIt()
    {
        WriteFolder();
        FileDigests.Write(_dir);
        var notes = Path.Combine(_dir, "extra", "notes.txt");
        File.Delete(notes);
        Assert.Equal($"{notes}: listed in SHA256SUMS but missing", Fails());

        File.WriteAllText(notes, "");
        var stray = Path.Combine(_dir, "optimizer.pt");
        File.WriteAllText(stray, "x");
        Assert.Equal($"{stray}: not listed in SHA256SUMS", Fails());
    }

    [Fact]
    public void MissingOrMalformedDigestFile_Fails()
    {
        WriteFolder();
        Assert.StartsWith($"{Sums}: no SHA-256 digests for the folder (file not found)", Fails());

        FileDigests.Write(_dir);
        File.AppendAllText(Sums, "not a digest line\n");
        Assert.Equal($"{Sums}: line 4 is not \"<64 hex digits>  <relative path>\"", Fails());

        File.WriteAllText(Sums, $"{new string('0', 64)}  ../outside.bin\n");
        Assert.Equal($"{Sums}: line 1 is not \"<64 hex digits>  <relative path>\"", Fails());
    }

    [Fact]
    public void Skip_BypassesTheCheck()
    {
        WriteFolder();
        FileDigests.Verify(_dir, skip: true); // no digest file
        FileDigests.Write(_dir);
        File.AppendAllText(Path.Combine(_dir, "config.yaml"), "edited: by hand\n");
        Assert.Throws<CheckpointException>(() => FileDigests.Verify(_dir));
        FileDigests.Verify(_dir, skip: true);
    }

    [Fact]
    public void LeftoverAtomicFileTemporary_IsNotContent()
    {
        WriteFolder();
        FileDigests.Write(_dir);
        // what AtomicFile.Write leaves when the process dies before the rename
        File.WriteAllText(Path.Combine(_dir, $".pytorch_model.bin.{Guid.NewGuid():N}.tmp"), "half");
        FileDigests.Verify(_dir);
        Assert.DoesNotContain(".tmp", File.ReadAllText(Sums));
    }

    [Fact]
    public void BinaryModeMarkerAndUppercaseHex_Accepted()
    {
        WriteFolder();
        FileDigests.Write(_dir);
        var lines = File.ReadAllLines(Sums).Select(l => l[..64].ToUpperInvariant() + " *" + l[66..]);
        File.WriteAllText(Sums, string.Join("\n", lines) + "\n");
        FileDigests.Verify(_dir);
    }
}
