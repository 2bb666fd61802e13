using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>
/// A qcow2 disk image (qemu docs/interop/qcow2.txt): guest clusters map through a two-level table
/// (L1 → L2 → host cluster). Unallocated clusters read as zeros or from the backing image; writes
/// allocate clusters at the end of the file and keep refcounts consistent (see Qcow2Image.Allocation.cs);
/// internal snapshots share clusters with the active image copy-on-write (Qcow2Image.Snapshots.cs).
/// Every host offset read from the image is checked before use.
/// </summary>
public sealed partial class Qcow2Image : IBlockBackend
{
    // L1/L2 entry flag bits (qcow2.txt, "Cluster mapping").
    private const ulong Copied = 1UL << 63;
    private const ulong CompressedFlag = 1UL << 62;
    private const ulong ZeroFlag = 1UL;
    private const int MaxBackingDepth = 16;

    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly Qcow2Header _header;
    private readonly int _clusterBits;
    private readonly long _clusterSize;
    private readonly int _l2Bits;
    private readonly ulong[] _l1;
    private readonly IBlockBackend? _backing;
    private readonly object _gate = new();
    private readonly byte[] _clusterBuffer;
    private readonly byte[] _decompressed;
    private byte[]? _compressedInput;
    private ulong _decompressedEntry;
    private long _fileLength;

    private enum ClusterKind { Unallocated, Zero, Compressed, Normal }

    private Qcow2Image(SafeFileHandle file, string path, Qcow2Header header, bool readOnly, long fileLength, IBlockBackend? backing)
    {
        _file = file;
        _path = path;
        _header = header;
        _clusterBits = header.ClusterBits;
        _clusterSize = header.ClusterSize;
        _l2Bits = _clusterBits - 3;
        _fileLength = fileLength;
        _nextFree = AlignUp(fileLength);
        _backing = backing;
        ReadOnly = readOnly;
        _clusterBuffer = new byte[_clusterSize];
        _decompressed = new byte[_clusterSize];
        _l1 = new ulong[header.L1Size];
        var raw = new byte[header.L1Size * 8];
        HostFile.ReadFully(file, header.L1TableOffset, raw);
        for (int i = 0; i < _l1.Length; i++) _l1[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        _snapshots = Qcow2SnapshotTable.Read(file, header, fileLength, path, Qcow2Header.MaxL1Bytes / 8);
    }

    public long Size => _header.Size;
    public bool ReadOnly { get; }
    public int ClusterBits => _clusterBits;
    public string? BackingFile => _header.BackingFile;
    public string Path => _path;

    /// <summary>Opens a qcow2 image; its backing chain (if any) is opened read-only.</summary>
    public static Qcow2Image Open(string path, bool readOnly) => Open(path, readOnly, 0);

    internal static Qcow2Image Open(string path, bool readOnly, int depth)
    {
        if (depth > MaxBackingDepth) throw Qcow2Header.Bad(path, $"backing chain is deeper than {MaxBackingDepth} (a loop?)");
        SafeFileHandle file = DiskImage.OpenHandle(path, readOnly);
        IBlockBackend? backing = null;
        try
        {
            long length = RandomAccess.GetLength(file);
            var header = Qcow2Header.Read(file, length, path);
            if (!readOnly) CheckWritable(header, path);
            if (header.BackingFile is { } name)
                backing = DiskImage.Open(DiskImage.ResolveBacking(path, name), header.BackingFormat, readOnly: true, depth + 1);
            var image = new Qcow2Image(file, path, header, readOnly, length, backing);
            if (!readOnly && header.AutoclearFeatures != 0) image.ClearAutoclear();
            return image;
        }
        catch
        {
            backing?.Dispose();
            file.Dispose();
            throw;
        }
    }

    private static void CheckWritable(Qcow2Header header, string path)
    {
        if ((header.IncompatibleFeatures & Qcow2Header.IncompatCorrupt) != 0)
            throw Qcow2Header.Bad(path, "the image is marked corrupt; it can only be opened read-only (repair with 'qemu-img check -r all')");
        if (header.RefcountOrder < 3)
            throw Qcow2Header.Bad(path, $"refcount width {1 << header.RefcountOrder} bits is not supported for writing");
    }

    /// <summary>qcow2.txt: a writer that does not know an autoclear bit must clear it before modifying the image.</summary>
    private void ClearAutoclear() => WriteU64(Qcow2Header.Offset_AutoclearFeatures, 0);

    public void Read(long offset, Span<byte> destination)
    {
        BlockRange.Check(offset, destination.Length, Size);
        lock (_gate)
        {
            while (!destination.IsEmpty)
            {
                int n = PieceLength(offset, destination.Length);
                ReadPiece(offset, destination[..n]);
                offset += n;
                destination = destination[n..];
            }
        }
    }

    private void ReadPiece(long guestOffset, Span<byte> destination)
    {
        ulong entry = LookupL2Entry(guestOffset, out _);
        int inCluster = (int)(guestOffset & (_clusterSize - 1));
        switch (Classify(entry))
        {
            case ClusterKind.Unallocated: ReadBacking(guestOffset, destination); break;
            case ClusterKind.Zero: destination.Clear(); break;
            case ClusterKind.Compressed: Decompress(entry).AsSpan(inCluster, destination.Length).CopyTo(destination); break;
            default: HostFile.ReadFully(_file, DataOffset(entry) + inCluster, destination); break;
        }
    }

    private void ReadBacking(long guestOffset, Span<byte> destination)
    {
        // A backing image smaller than the overlay reads as zeros past its end (qcow2.txt, "backing file").
        long available = _backing is null ? 0 : Math.Clamp(_backing.Size - guestOffset, 0, destination.Length);
        if (available > 0) _backing!.Read(guestOffset, destination[..(int)available]);
        destination[(int)available..].Clear();
    }

    /// <summary>The whole guest cluster's current contents into <see cref="_clusterBuffer"/> (copy-on-write source).</summary>
    private void ReadWholeCluster(long clusterStart, ulong entry)
    {
        switch (Classify(entry))
        {
            case ClusterKind.Unallocated: ReadBacking(clusterStart, _clusterBuffer); break;
            case ClusterKind.Zero: Array.Clear(_clusterBuffer); break;
            case ClusterKind.Compressed: Decompress(entry).CopyTo(_clusterBuffer, 0); break;
            default: HostFile.ReadFully(_file, DataOffset(entry), _clusterBuffer); break;
        }
    }

    private static ClusterKind Classify(ulong entry)
    {
        if ((entry & CompressedFlag) != 0) return ClusterKind.Compressed;
        if ((entry & ZeroFlag) != 0) return ClusterKind.Zero;
        return (entry & Qcow2Header.OffsetMask) == 0 ? ClusterKind.Unallocated : ClusterKind.Normal;
    }

    /// <summary>The L2 entry for a guest offset, 0 when its L2 table is unallocated; <paramref name="entryOffset"/> is where it lives (0 if nowhere).</summary>
    private ulong LookupL2Entry(long guestOffset, out long entryOffset)
    {
        entryOffset = 0;
        long l2Table = L2TableOffset(L1Index(guestOffset));
        if (l2Table == 0) return 0;
        entryOffset = l2Table + L2Index(guestOffset) * 8;
        return ReadU64(entryOffset);
    }

    private int L1Index(long guestOffset) => (int)(guestOffset >> (_clusterBits + _l2Bits));
    private long L2Index(long guestOffset) => (guestOffset >> _clusterBits) & ((1L << _l2Bits) - 1);

    private long L2TableOffset(int l1Index)
    {
        long offset = (long)(_l1[l1Index] & Qcow2Header.OffsetMask);
        if (offset != 0) CheckMetadataCluster(offset, "L2 table");
        return offset;
    }

    private long DataOffset(ulong entry)
    {
        long offset = (long)(entry & Qcow2Header.OffsetMask);
        if ((offset & (_clusterSize - 1)) != 0 || offset >= _fileLength)
            throw Qcow2Header.Bad(_path, $"data cluster at 0x{offset:x} is misaligned or past the end of the file");
        return offset;
    }

    private void CheckMetadataCluster(long offset, string what)
    {
        if ((offset & (_clusterSize - 1)) != 0 || offset > _fileLength - _clusterSize)
            throw Qcow2Header.Bad(_path, $"{what} at 0x{offset:x} is misaligned or past the end of the file");
    }

    /// <summary>
    /// Compressed cluster descriptor (qcow2.txt): with x = 62 - (cluster_bits - 8), bits 0..x-1 are the
    /// host byte offset and bits x..61 the count of 512-byte sectors beyond the one holding the offset.
    /// Data is a raw deflate stream (compression type 0).
    /// </summary>
    private (long Offset, long Length) CompressedRange(ulong entry)
    {
        int x = 62 - (_clusterBits - 8);
        long offset = (long)(entry & ((1UL << x) - 1));
        long sectors = (long)((entry >> x) & ((1UL << (_clusterBits - 8)) - 1));
        return (offset, (sectors + 1) * 512 - (offset & 511));
    }

    private byte[] Decompress(ulong entry)
    {
        if (entry == _decompressedEntry) return _decompressed;
        var (offset, length) = CompressedRange(entry);
        if (offset >= _fileLength) throw Qcow2Header.Bad(_path, $"compressed cluster at 0x{offset:x} is past the end of the file");
        length = Math.Min(length, _fileLength - offset);
        _compressedInput ??= new byte[_clusterSize * 2 + 512];
        HostFile.ReadFully(_file, offset, _compressedInput.AsSpan(0, (int)length));
        int got = 0;
        try
        {
            using var deflate = new DeflateStream(new MemoryStream(_compressedInput, 0, (int)length), CompressionMode.Decompress);
            while (got < _decompressed.Length)
            {
                int n = deflate.Read(_decompressed, got, _decompressed.Length - got);
                if (n == 0) break;
                got += n;
            }
        }
        catch (InvalidDataException e)
        {
            _decompressedEntry = 0;
            throw Qcow2Header.Bad(_path, $"compressed cluster at 0x{offset:x} does not inflate: {e.Message}");
        }
        if (got != _decompressed.Length)
        {
            _decompressedEntry = 0;
            throw Qcow2Header.Bad(_path, $"compressed cluster at 0x{offset:x} inflates to {got} bytes, not a whole cluster");
        }
        _decompressedEntry = entry;
        return _decompressed;
    }

    public void ReleaseLock()
    {
        if (ReadOnly) return;
        lock (_gate)
        {
            HostFile.DataSync(_file);
            HostFile.Unlock(_file);
        }
    }

    public void ReacquireLock()
    {
        if (ReadOnly) return;
        lock (_gate)
        {
            if (!HostFile.TryLockExclusive(_file)) throw new IOException($"the image {_path} is in use by another process; it cannot be taken back");
        }
    }

    public void Flush()
    {
        if (ReadOnly) return;
        lock (_gate) HostFile.DataSync(_file);
    }

    private int PieceLength(long offset, long remaining) =>
        (int)Math.Min(remaining, _clusterSize - (offset & (_clusterSize - 1)));

    private long AlignUp(long value) => (value + _clusterSize - 1) & ~(_clusterSize - 1);

    private ulong ReadU64(long offset)
    {
        Span<byte> b = stackalloc byte[8];
        HostFile.ReadFully(_file, offset, b);
        return BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    private void WriteU64(long offset, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        WriteFile(offset, b);
    }

    private void WriteFile(long offset, ReadOnlySpan<byte> data)
    {
        RandomAccess.Write(_file, data, offset);
        _fileLength = Math.Max(_fileLength, offset + data.Length);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file.Dispose();
            _backing?.Dispose();
        }
    }
}
