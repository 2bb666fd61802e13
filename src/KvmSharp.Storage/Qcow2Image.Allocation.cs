using System.Buffers.Binary;

namespace KvmSharp.Storage;

/// <summary>
/// The write side of qcow2: cluster allocation, copy-on-write, zero clusters and refcounts
/// (qcow2.txt, "Host cluster management"). New clusters are appended at the end of the file; a
/// cluster's refcount is set before anything points at it, so a crash leaks space rather than
/// corrupting data. Freed clusters get refcount 0 (and a punched hole) and are not reused. A cluster or L2 table
/// without COPIED is shared with an internal snapshot and is copied before it is written.
/// </summary>
public sealed partial class Qcow2Image
{
    private long _nextFree;
    private byte[]? _zeros;

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        BlockRange.CheckWritable(ReadOnly);
        BlockRange.Check(offset, source.Length, Size);
        lock (_gate)
        {
            while (!source.IsEmpty)
            {
                int n = PieceLength(offset, source.Length);
                WritePiece(offset, source[..n]);
                offset += n;
                source = source[n..];
            }
        }
    }

    public void WriteZeroes(long offset, long length) => ZeroRange(offset, length, discard: false);

    public void Discard(long offset, long length) => ZeroRange(offset, length, discard: true);

    private void WritePiece(long guestOffset, ReadOnlySpan<byte> data)
    {
        long l2Entry = EnsureL2Table(guestOffset) + L2Index(guestOffset) * 8;
        ulong entry = ReadU64(l2Entry);
        int inCluster = (int)(guestOffset & (_clusterSize - 1));
        ClusterKind kind = Classify(entry);
        bool owned = (entry & Copied) != 0;
        if (kind == ClusterKind.Normal && owned)
        {
            WriteFile(DataOffset(entry) + inCluster, data);
            return;
        }

        // Copy-on-write: the rest of the cluster comes from what the guest saw before
        // (backing image, zeros, a compressed or shared cluster), then the cluster gets a home of its own.
        if (data.Length < _clusterSize) ReadWholeCluster(guestOffset - inCluster, entry);
        data.CopyTo(_clusterBuffer.AsSpan(inCluster));
        bool preallocatedZero = kind == ClusterKind.Zero && owned && (entry & Qcow2Header.OffsetMask) != 0;
        long host = preallocatedZero ? DataOffset(entry) : AllocateCluster();
        WriteFile(host, _clusterBuffer);
        WriteU64(l2Entry, (ulong)host | Copied);
        if (!preallocatedZero) Release(entry);
    }

    /// <summary>
    /// WRITE_ZEROES and DISCARD: whole clusters become zero clusters (qcow2 v3 L2 bit 0) and, on discard,
    /// lose their host cluster; partial clusters are written with zeros (zeroing) or left alone (discard is advisory).
    /// </summary>
    private void ZeroRange(long offset, long length, bool discard)
    {
        BlockRange.CheckWritable(ReadOnly);
        BlockRange.Check(offset, length, Size);
        lock (_gate)
        {
            while (length > 0)
            {
                int n = PieceLength(offset, length);
                if (n == _clusterSize && _header.Version >= 3) ZeroCluster(offset, discard);
                else if (!discard) WritePiece(offset, (_zeros ??= new byte[_clusterSize]).AsSpan(0, n));
                offset += n;
                length -= n;
            }
        }
    }

    private void ZeroCluster(long guestOffset, bool discard)
    {
        ulong entry = LookupL2Entry(guestOffset, out _);
        // Already reads as zeros with nothing allocated: leave the metadata alone.
        if (entry == 0 && _backing is null) return;
        if (Classify(entry) == ClusterKind.Zero && (entry & Qcow2Header.OffsetMask) == 0) return;
        long l2Entry = EnsureL2Table(guestOffset) + L2Index(guestOffset) * 8;
        ulong replacement;
        if (!discard && Classify(entry) is ClusterKind.Normal or ClusterKind.Zero && (entry & Copied) != 0)
            replacement = (entry & Qcow2Header.OffsetMask) | Copied | ZeroFlag; // keep the allocation, mark it zero
        else
            replacement = _backing is null && discard ? 0 : ZeroFlag;
        WriteU64(l2Entry, replacement);
        if ((replacement & Qcow2Header.OffsetMask) == 0) Release(entry);
    }

    /// <summary>The L2 table covering a guest offset, allocating an empty one if needed.</summary>
    private long EnsureL2Table(long guestOffset)
    {
        int l1Index = L1Index(guestOffset);
        long table = L2TableOffset(l1Index);
        if (table != 0 && (_l1[l1Index] & Copied) != 0) return table;
        long shared = table;
        table = AllocateCluster();
        if (shared == 0) WriteFile(table, _zeros ??= new byte[_clusterSize]);
        else
        {
            // Without COPIED the table is shared with a snapshot: this image gets a copy of its own. The entries keep
            // their flags (what they point at is still shared), the copy is durable before the L1 names it, and the
            // shared table loses this image's reference last, so a crash leaks a cluster and never loses one.
            HostFile.ReadFully(_file, shared, _clusterBuffer);
            WriteFile(table, _clusterBuffer);
            HostFile.DataSync(_file);
        }
        _l1[l1Index] = (ulong)table | Copied;
        WriteU64(_header.L1TableOffset + l1Index * 8L, _l1[l1Index]);
        if (shared != 0) DropReference(shared);
        return table;
    }

    /// <summary>Drops the reference an old L2 entry held (normal or compressed) after the entry was replaced.</summary>
    private void Release(ulong entry)
    {
        switch (Classify(entry))
        {
            case ClusterKind.Compressed:
            {
                // qcow2.txt: a compressed cluster counts one reference on every host cluster its bytes touch.
                var (offset, length) = CompressedRange(entry);
                for (long c = offset >> _clusterBits; c <= (offset + length - 1) >> _clusterBits; c++)
                    DecrementRefcount(c << _clusterBits);
                break;
            }
            case ClusterKind.Normal:
            case ClusterKind.Zero when (entry & Qcow2Header.OffsetMask) != 0:
                DropReference(DataOffset(entry));
                break;
        }
    }

    /// <summary>One reference to a host cluster fewer; a cluster nothing refers to any more gives its space back.</summary>
    private void DropReference(long host)
    {
        if (DecrementRefcount(host) == 0) HostFile.TryPunchHole(_file, host, _clusterSize);
    }

    private long AllocateCluster()
    {
        long offset = _nextFree;
        _nextFree += _clusterSize;
        SetRefcount(offset, 1);
        return offset;
    }

    private int RefcountBytes => 1 << (_header.RefcountOrder - 3);
    private long RefcountsPerBlock => _clusterSize / RefcountBytes;
    private long RefcountTableEntries => _header.RefcountTableClusters * _clusterSize / 8;

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
        int width = RefcountBytes;
        for (int i = 0; i < width; i++) b[i] = (byte)(value >> (8 * (width - 1 - i)));
        WriteFile(block + RefcountIndex(host) * width, b[..width]);
    }

    private long RefcountIndex(long host) => (host >> _clusterBits) % RefcountsPerBlock;

    private ulong ReadRefcountAt(long offset)
    {
        Span<byte> b = stackalloc byte[8];
        int width = RefcountBytes;
        HostFile.ReadFully(_file, offset, b[..width]);
        ulong value = 0;
        for (int i = 0; i < width; i++) value = (value << 8) | b[i];
        return value;
    }

    /// <summary>The refcount block holding a host cluster's count; with <paramref name="allocate"/>, made (and the table grown) when missing.</summary>
    private long RefcountBlockOffset(long host, bool allocate)
    {
        long blockIndex = (host >> _clusterBits) / RefcountsPerBlock;
        if (blockIndex >= RefcountTableEntries)
        {
            if (!allocate) return 0;
            GrowRefcountTable();
        }
        long entryAt = _header.RefcountTableOffset + blockIndex * 8;
        long block = (long)(ReadU64(entryAt) & ~0x1FFUL);
        if (block != 0)
        {
            CheckMetadataCluster(block, "refcount block");
            return block;
        }
        if (!allocate) return 0;
        block = _nextFree;
        _nextFree += _clusterSize;
        WriteFile(block, _zeros ??= new byte[_clusterSize]);
        WriteU64(entryAt, (ulong)block);
        SetRefcount(block, 1); // the block may describe itself; if not, this recurses once into the next block
        return block;
    }

    /// <summary>
    /// Moves the refcount table to a bigger place at the end of the file, sized so that it covers
    /// itself and the blocks that describe it, then frees the old one (qcow2.txt, header bytes 48-59).
    /// </summary>
    private void GrowRefcountTable()
    {
        long oldOffset = _header.RefcountTableOffset;
        int oldClusters = _header.RefcountTableClusters;
        int clusters = oldClusters;
        long coverage(int c) => c * _clusterSize / 8 * RefcountsPerBlock * _clusterSize;
        do clusters *= 2; while (coverage(clusters) < _nextFree + (clusters + 4L) * _clusterSize);

        var table = new byte[clusters * _clusterSize];
        HostFile.ReadFully(_file, oldOffset, table.AsSpan(0, (int)(oldClusters * _clusterSize)));
        long newOffset = _nextFree;
        _nextFree += table.Length;
        WriteFile(newOffset, table);

        Span<byte> fields = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(fields, (ulong)newOffset);
        BinaryPrimitives.WriteUInt32BigEndian(fields[8..], (uint)clusters);
        WriteFile(Qcow2Header.Offset_RefcountTableOffset, fields);
        _header.RefcountTableOffset = newOffset;
        _header.RefcountTableClusters = clusters;

        for (int i = 0; i < clusters; i++) SetRefcount(newOffset + i * _clusterSize, 1);
        for (int i = 0; i < oldClusters; i++) SetRefcount(oldOffset + i * _clusterSize, 0);
    }
}
