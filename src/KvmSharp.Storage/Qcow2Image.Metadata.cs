using System.Buffers.Binary;

namespace KvmSharp.Storage;

/// <summary>
/// Refcounts and the order in which metadata reaches the file, after QEMU's qcow2 cache dependencies, so that a crash
/// (of this process or of the host) at any point loses no flushed write and leaves at most leaked clusters:
/// <list type="number">
/// <item>a new cluster's refcount and its data are written first (refcount blocks are written through);</item>
/// <item>fdatasync; then the dirty L2 tables (new tables included); fdatasync; then the L1 entries naming new tables;
/// fdatasync (<see cref="FlushMetadata"/>, at every guest FLUSH and when too many tables are dirty);</item>
/// <item>only then do the clusters the old entries named lose their reference (a refcount that falls before the
/// table stops naming the cluster would be corruption; one that falls late is a leak);</item>
/// <item>a new refcount block is written and synced before the refcount table names it; a grown refcount table is
/// written, with the blocks it adds, and synced before the header names it, and the header synced before the old
/// table is freed.</item>
/// </list>
/// A cluster whose refcount reaches zero is remembered and handed out again before the file grows.
/// </summary>
public sealed partial class Qcow2Image
{
    private long _nextFree;
    private ulong[] _refcountTable;
    private readonly HashSet<int> _dirtyL1 = [];
    private readonly List<long> _pendingDrops = [];
    private Stack<long>? _freeClusters;

    /// <summary>Writes back the cached metadata in dependency order with fdatasync between (see the type's comment).</summary>
    private void FlushMetadata()
    {
        // Data clusters and refcount increments: durable before any table names them.
        _file.Sync();
        var tables = _l2Cache.DirtyTables();
        if (tables.Count > 0)
        {
            foreach (var (offset, bytes) in tables) WriteFile(offset, bytes);
            _file.Sync();
            _l2Cache.MarkClean(tables.Select(t => t.Offset));
        }
        if (_dirtyL1.Count > 0)
        {
            foreach (int i in _dirtyL1.Order()) WriteU64(_header.L1TableOffset + i * 8L, _l1[i]);
            _file.Sync();
            _dirtyL1.Clear();
        }
        // Nothing on disk names these any more: drop their references (durable at the next flush; a crash leaks them).
        while (_pendingDrops.Count > 0)
        {
            long host = _pendingDrops[^1];
            DropReference(host);
            _pendingDrops.RemoveAt(_pendingDrops.Count - 1);
        }
    }

    private void FlushIfCacheFull()
    {
        if (_l2Cache.DirtyCount >= _l2Cache.Capacity || _pendingDrops.Count > 4096) FlushMetadata();
    }

    /// <summary>One reference to a host cluster fewer; a cluster nothing refers to any more gives its space back and may be reused.</summary>
    private void DropReference(long host)
    {
        if (DecrementRefcount(host) != 0) return;
        _file.TryPunchHole(host, _clusterSize);
        FreeClusters().Push(host);
    }

    /// <summary>A cluster for new data or metadata with refcount 1: a freed one if there is one, else the end of the file.</summary>
    private long AllocateCluster()
    {
        var free = FreeClusters();
        while (free.Count > 0)
        {
            long reused = free.Pop();
            if (GetRefcount(reused) != 0) continue;   // taken since (a snapshot, the refcount table) — look further
            SetRefcount(reused, 1);
            return reused;
        }
        long offset = _nextFree;
        _nextFree += _clusterSize;
        _fileLength = Math.Max(_fileLength, _nextFree);
        SetRefcount(offset, 1);
        return offset;
    }

    /// <summary>The clusters inside the file with refcount 0, found by scanning the refcount blocks on first use.</summary>
    private Stack<long> FreeClusters()
    {
        if (_freeClusters is not null) return _freeClusters;
        var found = new List<long>();
        long clusters = _nextFree >> _clusterBits;
        var block = new byte[_clusterSize];
        for (long b = 0; b < _refcountTable.Length && b * RefcountsPerBlock < clusters; b++)
        {
            long at = (long)(_refcountTable[b] & ~0x1FFUL);
            if (at == 0) continue;
            CheckMetadataCluster(at, "refcount block");
            _file.Read(at, block);
            for (long i = 0; i < RefcountsPerBlock && b * RefcountsPerBlock + i < clusters; i++)
                if (ReadRefcount(block, i) == 0) found.Add((b * RefcountsPerBlock + i) << _clusterBits);
        }
        found.Reverse();   // lowest offsets first out of the stack
        return _freeClusters = new Stack<long>(found);
    }

    private int RefcountBytes => 1 << (_header.RefcountOrder - 3);
    private long RefcountsPerBlock => _clusterSize / RefcountBytes;

    private ulong GetRefcount(long host)
    {
        long block = RefcountBlockOffset(host, allocate: false);
        return block == 0 ? 0 : ReadRefcountAt(block + RefcountIndex(host) * RefcountBytes);
    }

    private ulong DecrementRefcount(long host)
    {
        ulong count = GetRefcount(host);
        if (count == 0) throw Qcow2Header.Bad(_path, $"cluster at 0x{host:x} is in use but its refcount is 0");
        SetRefcount(host, count - 1);
        return count - 1;
    }

    private void SetRefcount(long host, ulong value)
    {
        long block = RefcountBlockOffset(host, allocate: true);
        Span<byte> b = stackalloc byte[8];
        EncodeRefcount(b, value);
        WriteFile(block + RefcountIndex(host) * RefcountBytes, b[..RefcountBytes]);
    }

    private void EncodeRefcount(Span<byte> into, ulong value)
    {
        int width = RefcountBytes;
        for (int i = 0; i < width; i++) into[i] = (byte)(value >> (8 * (width - 1 - i)));
    }

    private long RefcountIndex(long host) => (host >> _clusterBits) % RefcountsPerBlock;

    private ulong ReadRefcountAt(long offset)
    {
        Span<byte> b = stackalloc byte[8];
        _file.Read(offset, b[..RefcountBytes]);
        return ReadRefcount(b, 0);
    }

    private ulong ReadRefcount(ReadOnlySpan<byte> block, long index)
    {
        int width = RefcountBytes;
        ulong value = 0;
        foreach (byte x in block.Slice((int)(index * width), width)) value = (value << 8) | x;
        return value;
    }

    /// <summary>The refcount block holding a host cluster's count; with <paramref name="allocate"/>, made (and the table grown) when missing.</summary>
    private long RefcountBlockOffset(long host, bool allocate)
    {
        long blockIndex = (host >> _clusterBits) / RefcountsPerBlock;
        if (blockIndex >= _refcountTable.Length)
        {
            if (!allocate) return 0;
            GrowRefcountTable();
        }
        long block = (long)(_refcountTable[blockIndex] & ~0x1FFUL);
        if (block != 0)
        {
            CheckMetadataCluster(block, "refcount block");
            return block;
        }
        if (!allocate) return 0;
        // A new block, taken from the end of the file (free clusters have blocks already), with its own count in it
        // when it describes itself; written and synced before the table names it.
        block = _nextFree;
        _nextFree += _clusterSize;
        _fileLength = Math.Max(_fileLength, _nextFree);
        var content = new byte[_clusterSize];
        long selfIndex = (block >> _clusterBits) / RefcountsPerBlock;
        if (selfIndex == blockIndex) EncodeRefcount(content.AsSpan((int)(RefcountIndex(block) * RefcountBytes)), 1);
        else SetRefcount(block, 1);
        WriteFile(block, content);
        _file.Sync();
        _refcountTable[blockIndex] = (ulong)block;
        WriteU64(_header.RefcountTableOffset + blockIndex * 8, (ulong)block);
        return block;
    }

    /// <summary>
    /// Moves the refcount table to a bigger place at the end of the file (qcow2.txt, header bytes 48-59): the new table
    /// and the refcount blocks it needs to describe itself are written and synced, then the header switches to it in
    /// one 12-byte write and is synced, then the old table's clusters are freed.
    /// </summary>
    private void GrowRefcountTable()
    {
        long oldOffset = _header.RefcountTableOffset;
        int oldClusters = _header.RefcountTableClusters;
        int clusters = oldClusters;
        long coverage(int c) => c * _clusterSize / 8 * RefcountsPerBlock * _clusterSize;
        do clusters *= 2; while (coverage(clusters) < _nextFree + (2L * clusters + 8) * _clusterSize);

        long newOffset = _nextFree;
        _nextFree += clusters * _clusterSize;
        var entries = new ulong[clusters * _clusterSize / 8];
        _refcountTable.CopyTo(entries, 0);
        var newBlocks = new Dictionary<long, byte[]>();
        var needCount = new Queue<long>();
        for (int i = 0; i < clusters; i++) needCount.Enqueue(newOffset + i * _clusterSize);
        Span<byte> one = stackalloc byte[8];
        EncodeRefcount(one, 1);
        while (needCount.Count > 0)
        {
            long host = needCount.Dequeue();
            long blockIndex = (host >> _clusterBits) / RefcountsPerBlock;
            if (entries[blockIndex] == 0)
            {
                long block = _nextFree;
                _nextFree += _clusterSize;
                entries[blockIndex] = (ulong)block;
                newBlocks[blockIndex] = new byte[_clusterSize];
                needCount.Enqueue(block);
            }
            if (newBlocks.TryGetValue(blockIndex, out var content))
                one[..RefcountBytes].CopyTo(content.AsSpan((int)(RefcountIndex(host) * RefcountBytes)));
            else
                WriteFile((long)(entries[blockIndex] & ~0x1FFUL) + RefcountIndex(host) * RefcountBytes, one[..RefcountBytes]);
        }
        _fileLength = Math.Max(_fileLength, _nextFree);
        foreach (var (blockIndex, content) in newBlocks) WriteFile((long)entries[blockIndex], content);
        var tableBytes = new byte[entries.Length * 8];
        for (int i = 0; i < entries.Length; i++) BinaryPrimitives.WriteUInt64BigEndian(tableBytes.AsSpan(i * 8), entries[i]);
        WriteFile(newOffset, tableBytes);
        _file.Sync();

        Span<byte> fields = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(fields, (ulong)newOffset);
        BinaryPrimitives.WriteUInt32BigEndian(fields[8..], (uint)clusters);
        WriteFile(Qcow2Header.Offset_RefcountTableOffset, fields);
        _file.Sync();
        _header.RefcountTableOffset = newOffset;
        _header.RefcountTableClusters = clusters;
        _refcountTable = entries;

        for (int i = 0; i < oldClusters; i++) DropReference(oldOffset + i * _clusterSize);
    }
}
