using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;

namespace MaskBit.Interop;

/// <summary>An entry as the zip's central directory lists it (sizes and offset already widened by a zip64 extra field).</summary>
sealed record ZipEntry(string Name, byte[] RawName, ushort Flags, ushort Method, uint Crc32, long CompressedLength, long Length, long LocalHeaderOffset)
{
    /// <summary>General-purpose flag bit 3: CRC-32 and sizes follow the data (PyTorch's writer sets it) instead of
    /// standing in the local header.</summary>
    public bool HasDataDescriptor => (Flags & 8) != 0;
}

/// <summary>
/// A read-only zip archive (the container of <c>torch.save</c> files) that believes nothing it has not checked:
/// the end record must close the file (so a truncated file is refused), the central directory must end where the end
/// records begin, each local header (or the data descriptor after the data) must agree with the central directory on
/// name, method, sizes and CRC-32, and every entry read is checked against its CRC-32 once, while it is read.
/// </summary>
/// <remarks>
/// Why not <see cref="ZipArchive"/>: in .NET 10 it verifies no CRC-32 on read (a flipped byte inside a stored or a
/// deflated entry, or a changed CRC field, reads back without an error), it does not compare local headers or data
/// descriptors with the central directory, and it hides the local header offsets needed to do so. Reading the format
/// ourselves also means each byte passes through exactly one CRC computation (the vectorised
/// <see cref="System.IO.Hashing.Crc32"/>), never two. Stored and deflated entries are read; zip64 is understood.
/// </remarks>
sealed class ZipReader
{
    const uint LocalSignature = 0x04034b50, CentralSignature = 0x02014b50, EndSignature = 0x06054b50;
    const uint Zip64EndSignature = 0x06064b50, Zip64LocatorSignature = 0x07064b50, DescriptorSignature = 0x08074b50;
    const int LocalHeaderSize = 30, CentralHeaderSize = 46, EndSize = 22, Zip64EndSize = 56, Zip64LocatorSize = 20;

    readonly Stream _file;
    readonly long _dataEnd; // where the central directory begins: no entry's bytes may reach past it
    readonly Dictionary<string, ZipEntry> _byName = new(StringComparer.Ordinal);

    /// <summary>The entries in central-directory order.</summary>
    public IReadOnlyList<ZipEntry> Entries { get; }

    /// <summary>Reads and checks the end records and the central directory of <paramref name="file"/> (seekable; left open,
    /// and it must stay open while entries are read).</summary>
    public ZipReader(Stream file)
    {
        _file = file;
        var (count, offset, size) = ReadEnd();
        _dataEnd = offset;
        var entries = new List<ZipEntry>();
        var cd = ReadAt(offset, checked((int)size));
        for (int at = 0; at < cd.Length;)
        {
            var e = ReadCentral(cd, ref at);
            if (!_byName.TryAdd(e.Name, e)) throw new InvalidDataException($"zip entry {e.Name} appears twice");
            entries.Add(e);
        }
        if (entries.Count != count) throw new InvalidDataException($"zip central directory holds {entries.Count} entries, its end record says {count}");
        Entries = entries;
    }

    /// <summary>The entry named <paramref name="name"/>, or null.</summary>
    public ZipEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// The entry's content after its local header (or data descriptor) has been checked against the central directory.
    /// The stream checks the CRC-32 when the last byte is read; call <see cref="ZipEntryStream.Finish"/> after reading
    /// what is needed, so an entry read only in part is still checked whole.
    /// </summary>
    public ZipEntryStream Open(ZipEntry e)
    {
        var h = ReadAt(e.LocalHeaderOffset, LocalHeaderSize);
        if (U32(h, 0) != LocalSignature) throw new InvalidDataException($"zip entry {e.Name}: no local header at byte {e.LocalHeaderOffset}");
        int nameLength = U16(h, 26), extraLength = U16(h, 28);
        var nameAndExtra = ReadAt(e.LocalHeaderOffset + LocalHeaderSize, nameLength + extraLength);
        if (!nameAndExtra.AsSpan(0, nameLength).SequenceEqual(e.RawName))
            throw new InvalidDataException($"zip entry {e.Name}: local header names {Encoding.UTF8.GetString(nameAndExtra, 0, nameLength)}");
        if (U16(h, 8) != e.Method || (U16(h, 6) & 8) != (e.Flags & 8))
            throw new InvalidDataException($"zip entry {e.Name}: local header disagrees with the central directory (method {U16(h, 8)} vs {e.Method}, flags 0x{U16(h, 6):x4} vs 0x{e.Flags:x4})");
        long start = e.LocalHeaderOffset + LocalHeaderSize + nameLength + extraLength;
        if (start + e.CompressedLength > _dataEnd)
            throw new InvalidDataException($"zip entry {e.Name}: its {e.CompressedLength} bytes at byte {start} run into the central directory at byte {_dataEnd}");

        var zip64 = FindZip64(nameAndExtra.AsSpan(nameLength));
        var (crc, compressed, length) = e.HasDataDescriptor ? ReadDescriptor(e, start + e.CompressedLength, zip64.Length > 0) : FromLocalHeader(e, h, zip64);
        if (crc != e.Crc32 || compressed != e.CompressedLength || length != e.Length)
            throw new InvalidDataException($"zip entry {e.Name}: {(e.HasDataDescriptor ? "data descriptor" : "local header")} says {length} bytes ({compressed} stored), CRC-32 {crc:x8}; " +
                                           $"the central directory says {e.Length} bytes ({e.CompressedLength} stored), CRC-32 {e.Crc32:x8}");

        Stream content = new SliceStream(_file, start, e.CompressedLength);
        if (e.Method == 8) content = new DeflateStream(content, CompressionMode.Decompress);
        return new ZipEntryStream(content, e);
    }

    /// <summary>The whole (small) entry, checked.</summary>
    public byte[] ReadAll(ZipEntry e)
    {
        using var s = Open(e);
        var bytes = new byte[checked((int)e.Length)];
        s.ReadExactly(bytes);
        s.Finish();
        return bytes;
    }

    /// <summary>
    /// Entry count, offset and size of the central directory from the end record, which must end the file exactly
    /// (22 bytes plus its comment), widened by the zip64 end record where the locator before it points to one.
    /// The central directory must end where the end records begin: nothing may hide between them.
    /// </summary>
    (long Count, long Offset, long Size) ReadEnd()
    {
        long fileLength = _file.Length;
        int tail = (int)Math.Min(fileLength, EndSize + ushort.MaxValue);
        var t = ReadAt(fileLength - tail, tail);
        int at = tail - EndSize;
        while (at >= 0 && !(U32(t, at) == EndSignature && at + EndSize + U16(t, at + 20) == tail)) at--;
        if (at < 0) throw new InvalidDataException("zip end record missing at the end of the file (truncated?)");
        long end = fileLength - tail + at;
        long count = U16(t, at + 10), size = U32(t, at + 12), offset = U32(t, at + 16);

        long directoryEnd = end;
        var locator = end >= Zip64LocatorSize ? ReadAt(end - Zip64LocatorSize, Zip64LocatorSize) : [];
        if (locator.Length > 0 && U32(locator, 0) == Zip64LocatorSignature)
        {
            long recordAt = (long)U64(locator, 8); // a huge value turns negative and fails the range test
            var r = recordAt >= 0 && recordAt <= end - Zip64LocatorSize - Zip64EndSize ? ReadAt(recordAt, Zip64EndSize) : null;
            if (r is null || U32(r, 0) != Zip64EndSignature || recordAt + 12 + (long)U64(r, 4) != end - Zip64LocatorSize)
                throw new InvalidDataException($"zip64 end record not found at byte {recordAt}, where its locator puts it (bytes lost or added?)");
            count = Widen(count, 0xFFFF, U64(r, 32), "entry count");
            size = Widen(size, 0xFFFF_FFFF, U64(r, 40), "central directory size");
            offset = Widen(offset, 0xFFFF_FFFF, U64(r, 48), "central directory offset");
            directoryEnd = recordAt;
        }
        else if (count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF)
            throw new InvalidDataException("zip64 archive without its zip64 end record");
        if (offset + size != directoryEnd)
            throw new InvalidDataException($"zip central directory (byte {offset}, {size} bytes) does not end where the end records begin (byte {directoryEnd}; bytes lost or added?)");
        return (count, offset, size);
    }

    /// <summary>The zip64 value where the 32/16-bit field is saturated, which otherwise must agree with it.</summary>
    static long Widen(long value, long saturated, ulong wide, string what)
    {
        if (wide > long.MaxValue) throw new InvalidDataException($"zip64 {what} {wide} out of range");
        if (value != saturated && value != (long)wide) throw new InvalidDataException($"zip64 end record disagrees with the end record ({what} {wide} vs {value})");
        return (long)wide;
    }

    ZipEntry ReadCentral(byte[] cd, ref int at)
    {
        if (cd.Length - at < CentralHeaderSize || U32(cd, at) != CentralSignature)
            throw new InvalidDataException($"zip central directory entry at byte {_dataEnd + at} is malformed");
        int nameLength = U16(cd, at + 28), extraLength = U16(cd, at + 30), commentLength = U16(cd, at + 32);
        int next = at + CentralHeaderSize + nameLength + extraLength + commentLength;
        if (next > cd.Length) throw new InvalidDataException($"zip central directory entry at byte {_dataEnd + at} runs past the directory");
        var rawName = cd.AsSpan(at + CentralHeaderSize, nameLength).ToArray();
        var name = Encoding.UTF8.GetString(rawName);
        ushort flags = U16(cd, at + 8), method = U16(cd, at + 10);
        uint crc = U32(cd, at + 16);
        // The zip64 extra field holds the 8-byte values of the saturated fields, in this order.
        var wide = new Zip64Values(FindZip64(cd.AsSpan(at + CentralHeaderSize + nameLength, extraLength)), name);
        long length = wide.Widen(U32(cd, at + 24)), compressed = wide.Widen(U32(cd, at + 20)), local = wide.Widen(U32(cd, at + 42));
        at = next;

        if ((flags & 1) != 0) throw new InvalidDataException($"zip entry {name} is encrypted");
        if (method is not (0 or 8)) throw new InvalidDataException($"zip entry {name}: compression method {method} not supported");
        if (method == 0 && compressed != length) throw new InvalidDataException($"zip entry {name}: stored, but {compressed} bytes hold {length}");
        if (local > _dataEnd - LocalHeaderSize) throw new InvalidDataException($"zip entry {name}: local header offset {local} out of range");
        return new ZipEntry(name, rawName, flags, method, crc, compressed, length, local);
    }

    /// <summary>CRC-32 and sizes from a local header without data descriptor (sizes widened by its zip64 field).</summary>
    static (uint Crc, long Compressed, long Length) FromLocalHeader(ZipEntry e, byte[] h, byte[] zip64)
    {
        var wide = new Zip64Values(zip64, e.Name);
        long length = wide.Widen(U32(h, 22)), compressed = wide.Widen(U32(h, 18));
        return (U32(h, 14), compressed, length);
    }

    /// <summary>The data descriptor after an entry's data: an optional signature, CRC-32, then compressed and
    /// uncompressed size, 8 bytes each where the local header has a zip64 field, else 4.</summary>
    (uint Crc, long Compressed, long Length) ReadDescriptor(ZipEntry e, long at, bool zip64)
    {
        int size = zip64 ? 24 : 16;
        var d = ReadAt(at, (int)Math.Min(size, _dataEnd - at));
        int p = d.Length >= 4 && U32(d, 0) == DescriptorSignature ? 4 : 0;
        if (d.Length < p + (zip64 ? 20 : 12)) throw new InvalidDataException($"zip entry {e.Name}: data descriptor missing");
        return zip64
            ? (U32(d, p), checked((long)U64(d, p + 4)), checked((long)U64(d, p + 12)))
            : (U32(d, p), U32(d, p + 4), U32(d, p + 8));
    }

    /// <summary>The data of the zip64 extended-information extra field (id 1) in <paramref name="extra"/>, or empty.</summary>
    static byte[] FindZip64(ReadOnlySpan<byte> extra)
    {
        for (int at = 0; at + 4 <= extra.Length;)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra[at..]), size = BinaryPrimitives.ReadUInt16LittleEndian(extra[(at + 2)..]);
            if (at + 4 + size > extra.Length) throw new InvalidDataException("zip extra field runs past its header");
            if (id == 1) return extra.Slice(at + 4, size).ToArray();
            at += 4 + size;
        }
        return [];
    }

    /// <summary>Hands out the 8-byte values of a zip64 extra field in order, one per saturated 32-bit field.</summary>
    sealed class Zip64Values(byte[] data, string what)
    {
        int _used;

        public long Widen(uint value)
        {
            if (value != 0xFFFF_FFFF) return value;
            if (_used + 8 > data.Length) throw new InvalidDataException($"zip entry {what}: a saturated size or offset without its zip64 value");
            long wide = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(_used));
            _used += 8;
            return wide >= 0 ? wide : throw new InvalidDataException($"zip entry {what}: zip64 value {wide} out of range");
        }
    }

    byte[] ReadAt(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset + count > _file.Length) throw new EndOfStreamException();
        var buffer = new byte[count];
        _file.Position = offset;
        _file.ReadExactly(buffer);
        return buffer;
    }

    static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));
}

/// <summary>
/// The content of one zip entry, checked while it is read: it must have exactly the central directory's length, and its
/// CRC-32 (computed incrementally over the bytes as they pass, so no second pass over the data) must match.
/// </summary>
sealed class ZipEntryStream(Stream content, ZipEntry entry) : Stream
{
    readonly Crc32 _crc = new();
    long _remaining = entry.Length;

    public override int Read(Span<byte> buffer)
    {
        if (_remaining == 0 || buffer.IsEmpty) return 0;
        int n = content.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
        if (n == 0) throw new InvalidDataException($"zip entry {entry.Name} ends after {entry.Length - _remaining} of its {entry.Length} bytes");
        _crc.Append(buffer[..n]);
        _remaining -= n;
        if (_remaining == 0 && _crc.GetCurrentHashAsUInt32() is var got && got != entry.Crc32)
            throw new InvalidDataException($"CRC-32 mismatch in zip entry {entry.Name} (expected {entry.Crc32:x8}, got {got:x8})");
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <summary>Reads (and so checks) whatever of the entry has not been read yet.</summary>
    public void Finish()
    {
        var rest = new byte[(int)Math.Min(_remaining, 1 << 16)];
        while (_remaining > 0) _ = Read(rest);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) content.Dispose();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => entry.Length;
    public override long Position { get => entry.Length - _remaining; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A window of a seekable stream, read from its own position whatever else moved the stream in between.</summary>
sealed class SliceStream(Stream file, long start, long length) : Stream
{
    long _position;

    public override int Read(Span<byte> buffer)
    {
        int n = (int)Math.Min(buffer.Length, length - _position);
        if (n <= 0) return 0;
        file.Position = start + _position;
        n = file.Read(buffer[..n]);
        _position += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
