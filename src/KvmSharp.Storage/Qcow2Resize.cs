using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>
/// Grows the virtual size of a closed qcow2 image (qcow2.txt: header <c>size</c> at byte 24, <c>l1_size</c> at 36,
/// <c>l1_table_offset</c> at 40). When the L1 table must grow past its clusters, a new table is written at the end of
/// the file, in the order that makes a crash at any point leak clusters at worst and never leave a reference to an
/// uncounted one (as QEMU's qcow2_grow_l1_table): refcounts for the new clusters first (new refcount blocks, then the
/// refcount table entries naming them), then the new table, then the header that points at it, each step synced; the
/// old table's clusters are released last. Shrinking is refused: QEMU's shrink must discard data past the new end.
/// </summary>
public static class Qcow2Resize
{
    private const int SizeOffset = 24, L1SizeOffset = 36, L1TableOffsetOffset = 40;
    private const ulong RefcountBlockOffsetMask = 0xFFFF_FFFF_FFFF_FE00UL;

    /// <summary>Sets the virtual size of <paramref name="path"/> to <paramref name="newSize"/> bytes (rounded up to 512), at least its current size.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A smaller or absurd size.</exception>
    /// <exception cref="ImageFormatException">A malformed image.</exception>
    /// <exception cref="NotSupportedException">An image layout we do not grow (refcounts narrower than a byte, a refcount table that would have to grow).</exception>
    /// <exception cref="IOException">The image is open elsewhere (the exclusive lock a VMM holds) or the host failed.</exception>
    public static void Grow(string path, long newSize)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        long length = RandomAccess.GetLength(file);
        var header = Qcow2Header.Read(file, length, path);
        if (newSize > 1L << 56) throw new ArgumentOutOfRangeException(nameof(newSize), newSize, "a qcow2 image holds at most 2^56 bytes");
        newSize = (newSize + 511) & ~511L;
        if (newSize < header.Size)
            throw new ArgumentOutOfRangeException(nameof(newSize), newSize, $"shrinking a qcow2 image ({header.Size} bytes) is not supported");

        long clusterSize = header.ClusterSize;
        long bytesPerL1Entry = clusterSize * (clusterSize / 8);
        long neededEntries = (newSize + bytesPerL1Entry - 1) / bytesPerL1Entry;
        if (neededEntries * 8 > Qcow2Header.MaxL1Bytes)
            throw new ArgumentOutOfRangeException(nameof(newSize), newSize, $"{newSize} bytes need an L1 table larger than {Qcow2Header.MaxL1Bytes} bytes");

        if (neededEntries <= header.L1Size)
        {
            WriteHeader(file, newSize, header.L1Size, header.L1TableOffset);
            return;
        }
        long oldTableBytes = header.L1Size * 8L;
        long oldTableClusters = (oldTableBytes + clusterSize - 1) / clusterSize;
        if (neededEntries * 8 <= oldTableClusters * clusterSize)
        {
            // The table's last cluster has room: the new entries must read as unallocated before the header counts them.
            RandomAccess.Write(file, new byte[neededEntries * 8 - oldTableBytes], header.L1TableOffset + oldTableBytes);
            HostFile.DataSync(file);
            WriteHeader(file, newSize, (int)neededEntries, header.L1TableOffset);
            return;
        }
        MoveL1Table(file, path, length, header, (int)neededEntries, newSize);
    }

    private static void MoveL1Table(SafeFileHandle file, string path, long length, Qcow2Header header, int entries, long newSize)
    {
        long clusterSize = header.ClusterSize;
        long tableClusters = (entries * 8L + clusterSize - 1) / clusterSize;
        long firstCluster = (length + clusterSize - 1) / clusterSize;

        var refcounts = new RefcountEditor(file, path, header, firstCluster + tableClusters);
        for (long c = 0; c < tableClusters; c++) refcounts.Change(firstCluster + c, +1);
        refcounts.WriteBlocks();       // new and changed refcount blocks, synced
        refcounts.WriteTableEntries(); // the refcount table names the new blocks, synced

        var table = new byte[tableClusters * clusterSize];
        HostFile.ReadFully(file, header.L1TableOffset, table.AsSpan(0, header.L1Size * 8));
        RandomAccess.Write(file, table, firstCluster * clusterSize);
        HostFile.DataSync(file);

        WriteHeader(file, newSize, entries, firstCluster * clusterSize);

        // The old table is unreferenced now; a crash before this leaks its clusters, nothing worse.
        var release = new RefcountEditor(file, path, Qcow2Header.Read(file, RandomAccess.GetLength(file), path), long.MaxValue);
        long oldClusters = (header.L1Size * 8L + clusterSize - 1) / clusterSize;
        for (long c = 0; c < oldClusters; c++) release.Change(header.L1TableOffset / clusterSize + c, -1);
        release.WriteBlocks();
    }

    /// <summary>Bytes 24..47 in one write: size, crypt_method (0: Read refused any other), l1_size, l1_table_offset.</summary>
    private static void WriteHeader(SafeFileHandle file, long size, int l1Size, long l1Offset)
    {
        Span<byte> fields = stackalloc byte[L1TableOffsetOffset + 8 - SizeOffset];
        BinaryPrimitives.WriteUInt64BigEndian(fields, (ulong)size);
        BinaryPrimitives.WriteUInt32BigEndian(fields[(L1SizeOffset - SizeOffset)..], (uint)l1Size);
        BinaryPrimitives.WriteUInt64BigEndian(fields[(L1TableOffsetOffset - SizeOffset)..], (ulong)l1Offset);
        RandomAccess.Write(file, fields, SizeOffset);
        HostFile.DataSync(file);
    }

    /// <summary>
    /// Refcount changes gathered in memory (qcow2.txt "Host cluster management"), written block by block. A cluster
    /// whose refcount block does not exist gets a new block, placed at <c>nextFree</c> onwards and counting itself.
    /// </summary>
    private sealed class RefcountEditor
    {
        private readonly SafeFileHandle _file;
        private readonly string _path;
        private readonly long _clusterSize;
        private readonly int _entryBytes;
        private readonly long _entriesPerBlock;
        private readonly long _tableOffset;
        private readonly long _tableEntries;
        private readonly Dictionary<long, (long Offset, byte[] Data, bool New)> _blocks = [];
        private long _nextFree;

        public RefcountEditor(SafeFileHandle file, string path, Qcow2Header header, long nextFree)
        {
            if (header.RefcountOrder < 3)
                throw new NotSupportedException($"'{path}': refcounts of {1 << header.RefcountOrder} bits are not supported for resizing (8 to 64 are)");
            _file = file;
            _path = path;
            _clusterSize = header.ClusterSize;
            _entryBytes = (1 << header.RefcountOrder) / 8;
            _entriesPerBlock = _clusterSize / _entryBytes;
            _tableOffset = header.RefcountTableOffset;
            _tableEntries = header.RefcountTableClusters * _clusterSize / 8;
            _nextFree = nextFree;
        }

        public void Change(long cluster, int delta)
        {
            var (_, data, _) = Block(cluster / _entriesPerBlock);
            var entry = data.AsSpan((int)(cluster % _entriesPerBlock * _entryBytes), _entryBytes);
            ulong value = Read(entry);
            if (delta > 0 && value != 0)
                throw new ImageFormatException($"'{_path}': cluster {cluster} past the end of the file already has refcount {value}");
            if (delta < 0 && value == 0)
                throw new ImageFormatException($"'{_path}': cluster {cluster} of the L1 table has refcount 0");
            Write(entry, delta > 0 ? value + 1 : value - 1);
        }

        private (long Offset, byte[] Data, bool New) Block(long index)
        {
            if (_blocks.TryGetValue(index, out var block)) return block;
            if (index >= _tableEntries)
                throw new NotSupportedException($"'{_path}': growing needs a larger refcount table, which resizing does not do");
            Span<byte> raw = stackalloc byte[8];
            HostFile.ReadFully(_file, _tableOffset + index * 8, raw);
            long offset = (long)(BinaryPrimitives.ReadUInt64BigEndian(raw) & RefcountBlockOffsetMask);
            if (offset != 0)
            {
                if (offset % _clusterSize != 0 || offset > RandomAccess.GetLength(_file) - _clusterSize)
                    throw new ImageFormatException($"'{_path}': refcount block {index} at 0x{offset:x} lies outside the file");
                var data = new byte[_clusterSize];
                HostFile.ReadFully(_file, offset, data);
                block = (offset, data, false);
                _blocks[index] = block;
                return block;
            }
            if (_nextFree == long.MaxValue)
                throw new ImageFormatException($"'{_path}': refcount block {index} is missing");
            long at = _nextFree++;
            block = (at * _clusterSize, new byte[_clusterSize], true);
            _blocks[index] = block;
            Change(at, +1);   // a new block counts itself (in itself, or in yet another new block)
            return block;
        }

        public void WriteBlocks()
        {
            foreach (var (offset, data, _) in _blocks.Values) RandomAccess.Write(_file, data, offset);
            HostFile.DataSync(_file);
        }

        public void WriteTableEntries()
        {
            Span<byte> raw = stackalloc byte[8];
            bool any = false;
            foreach (var (index, (offset, _, isNew)) in _blocks)
            {
                if (!isNew) continue;
                BinaryPrimitives.WriteUInt64BigEndian(raw, (ulong)offset);
                RandomAccess.Write(_file, raw, _tableOffset + index * 8);
                any = true;
            }
            if (any) HostFile.DataSync(_file);
        }

        private ulong Read(ReadOnlySpan<byte> entry)
        {
            ulong value = 0;
            foreach (byte b in entry) value = value << 8 | b;
            return value;
        }

        private static void Write(Span<byte> entry, ulong value)
        {
            for (int i = entry.Length - 1; i >= 0; i--, value >>= 8) entry[i] = (byte)value;
        }
    }
}
