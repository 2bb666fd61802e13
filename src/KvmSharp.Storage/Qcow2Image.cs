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

    /// <summary>L2 tables kept decoded in memory: 32 tables of a 64 KiB-cluster image map 16 GiB of guest disk.</summary>
    private const int L2CacheTables = 32;

    private readonly ImageFile _file;
    private readonly string _path;
    private readonly Qcow2Header _header;
    private readonly int _clusterBits;
    private readonly long _clusterSize;
    private readonly int _l2Bits;
    private readonly ulong[] _l1;
    private readonly IBlockBackend? _backing;
    private readonly Qcow2L2Cache _l2Cache;
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly object _decompressGate = new();
    private readonly byte[] _clusterBuffer;
    private readonly byte[] _decompressed;
    private byte[]? _compressedInput;
    private ulong _decompressedEntry;
    private long _fileLength;

    private enum ClusterKind { Unallocated, Zero, Compressed, Normal }

    private Qcow2Image(ImageFile file, string path, Qcow2Header header, bool readOnly, long fileLength, IBlockBackend? backing)
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
        _l1 = ReadTable(header.L1TableOffset, header.L1Size);
        _refcountTable = ReadTable(header.RefcountTableOffset, (int)(header.RefcountTableClusters * _clusterSize / 8));
        _l2Cache = new Qcow2L2Cache(L2CacheTables, (int)(_clusterSize / 8), (offset, into) => _file.Read(offset, into));
        _snapshots = Qcow2SnapshotTable.Read(file.Handle, header, fileLength, path, Qcow2Header.MaxL1Bytes / 8);
    }

    public long Size => _header.Size;
    public bool ReadOnly { get; }
    public int ClusterBits => _clusterBits;
    public string? BackingFile => _header.BackingFile;
    public string Path => _path;

    /// <summary>Opens a qcow2 image; its backing chain (if any) is opened read-only.</summary>
    public static Qcow2Image Open(string path, bool readOnly) => Open(path, readOnly, 0);

    internal static Qcow2Image Open(string path, bool readOnly, int depth) => Open(path, readOnly, depth, handle => new ImageFile(handle));

    /// <summary>Opens with the host file wrapped by <paramref name="wrap"/> (the crash tests record writes and syncs so).</summary>
    internal static Qcow2Image Open(string path, bool readOnly, int depth, Func<SafeFileHandle, ImageFile> wrap)
    {
        if (depth > MaxBackingDepth) throw Qcow2Header.Bad(path, $"backing chain is deeper than {MaxBackingDepth} (a loop?)");
        ImageFile file = wrap(DiskImage.OpenHandle(path, readOnly));
        IBlockBackend? backing = null;
        try
        {
            long length = file.Length;
            var header = Qcow2Header.Read(file.Handle, length, path);
            if (!readOnly) CheckWritable(header, path);
            if (header.BackingFile is { } name)
                backing = DiskImage.OpenBacking(path, DiskImage.ResolveBacking(path, name), header.BackingFormat, depth + 1);
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
    private void ClearAutoclear()
    {
        WriteU64(Qcow2Header.Offset_AutoclearFeatures, 0);
        _file.Sync();
    }

    public void Read(long offset, Span<byte> destination)
    {
        BlockRange.Check(offset, destination.Length, Size);
        // Reads share the lock: they change no metadata, so any number run at once (allocation waits for them).
        _lock.EnterReadLock();
        try
        {
            while (!destination.IsEmpty)
            {
                int n = PieceLength(offset, destination.Length);
                ReadPiece(offset, destination[..n]);
                offset += n;
                destination = destination[n..];
            }
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    private void ReadPiece(long guestOffset, Span<byte> destination)
    {
        ulong entry = LookupL2Entry(guestOffset);
        int inCluster = (int)(guestOffset & (_clusterSize - 1));
        switch (Classify(entry))
        {
            case ClusterKind.Unallocated: ReadBacking(guestOffset, destination); break;
            case ClusterKind.Zero: destination.Clear(); break;
            case ClusterKind.Compressed:
                lock (_decompressGate) Decompress(entry).AsSpan(inCluster, destination.Length).CopyTo(destination);
                break;
            default: _file.Read(DataOffset(entry) + inCluster, destination); break;
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
            case ClusterKind.Compressed:
                lock (_decompressGate) Decompress(entry).CopyTo(_clusterBuffer, 0);
                break;
            default: _file.Read(DataOffset(entry), _clusterBuffer); break;
        }
    }

    private static ClusterKind Classify(ulong entry)
    {
        if ((entry & CompressedFlag) != 0) return ClusterKind.Compressed;
        if ((entry & ZeroFlag) != 0) return ClusterKind.Zero;
        return (entry & Qcow2Header.OffsetMask) == 0 ? ClusterKind.Unallocated : ClusterKind.Normal;
    }

    /// <summary>The L2 entry for a guest offset (through the L2 cache), 0 when its L2 table is unallocated.</summary>
    private ulong LookupL2Entry(long guestOffset)
    {
        long l2Table = L2TableOffset(L1Index(guestOffset));
        return l2Table == 0 ? 0 : _l2Cache.Get(l2Table, L2Index(guestOffset));
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
        // offset < 0: an entry with bit 63 set (found by fuzz/run qcow2: a refcount table entry reached the file read as a negative offset).
        if (offset < 0 || (offset & (_clusterSize - 1)) != 0 || offset > _fileLength - _clusterSize)
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
        _file.Read(offset, _compressedInput.AsSpan(0, (int)length));
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
        using var _ = Exclusive();
        FlushMetadata();
        _file.Sync();   // the references FlushMetadata dropped last, too: the next owner reads the file as it is
        HostFile.Unlock(_file.Handle);
    }

    public void ReacquireLock()
    {
        if (ReadOnly) return;
        using var _ = Exclusive();
        if (!HostFile.TryLockExclusive(_file.Handle)) throw new IOException($"the image {_path} is in use by another process; it cannot be taken back");
    }

    /// <summary>virtio-blk FLUSH: every completed write durable, with the metadata that maps it (see <see cref="FlushMetadata"/>).</summary>
    public void Flush()
    {
        if (ReadOnly) return;
        using var _ = Exclusive();
        FlushMetadata();
    }

    /// <summary>The exclusive side of the image lock: metadata changes, flushes, snapshots.</summary>
    private ExclusiveScope Exclusive()
    {
        _lock.EnterWriteLock();
        return new ExclusiveScope(_lock);
    }

    private readonly struct ExclusiveScope(ReaderWriterLockSlim rw) : IDisposable
    {
        public void Dispose() => rw.ExitWriteLock();
    }

    private int PieceLength(long offset, long remaining) =>
        (int)Math.Min(remaining, _clusterSize - (offset & (_clusterSize - 1)));

    private long AlignUp(long value) => (value + _clusterSize - 1) & ~(_clusterSize - 1);

    private ulong ReadU64(long offset)
    {
        Span<byte> b = stackalloc byte[8];
        _file.Read(offset, b);
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
        _file.Write(offset, data);
        _fileLength = Math.Max(_fileLength, offset + data.Length);
    }

    /// <summary>Writes back what the cache holds (an image closed without a FLUSH keeps its writes), then closes.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _lock.EnterWriteLock();
        try
        {
            if (!ReadOnly && !_file.Handle.IsClosed) FlushMetadata();
        }
        finally
        {
            _disposed = true;
            _file.Dispose();
            _backing?.Dispose();
            _lock.ExitWriteLock();
            _lock.Dispose();
        }
    }

    private bool _disposed;
}
