using System.Buffers.Binary;

namespace KvmSharp.Storage;

/// <summary>
/// The write side of qcow2: cluster allocation, copy-on-write, zero clusters (qcow2.txt, "Host cluster management").
/// A write to a cluster this image owns goes straight to its data under the shared lock; anything that changes the
/// mapping takes the exclusive lock. Mapping changes follow the order of Qcow2Image.Metadata.cs: the new cluster's
/// refcount and its data are written at once, the L2 entry naming it only in memory (the L2 cache), reaching the file
/// at the next metadata flush after an fdatasync; references are dropped only after the tables no longer name them.
/// </summary>
public sealed partial class Qcow2Image
{
    private byte[]? _zeros;

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        BlockRange.CheckWritable(ReadOnly);
        BlockRange.Check(offset, source.Length, Size);
        while (!source.IsEmpty)
        {
            int n = PieceLength(offset, source.Length);
            if (!TryWriteInPlace(offset, source[..n]))
            {
                using (Exclusive())
                {
                    WritePiece(offset, source[..n]);
                    FlushIfCacheFull();
                }
            }
            offset += n;
            source = source[n..];
        }
    }

    /// <summary>A write into a cluster this image already owns changes no metadata: it runs alongside reads and other such writes.</summary>
    private bool TryWriteInPlace(long guestOffset, ReadOnlySpan<byte> data)
    {
        _lock.EnterReadLock();
        try
        {
            ulong entry = LookupL2Entry(guestOffset);
            if (Classify(entry) != ClusterKind.Normal || (entry & Copied) == 0) return false;
            _file.Write(DataOffset(entry) + (guestOffset & (_clusterSize - 1)), data);
            return true;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public void WriteZeroes(long offset, long length) => ZeroRange(offset, length, discard: false);

    public void Discard(long offset, long length) => ZeroRange(offset, length, discard: true);

    private void WritePiece(long guestOffset, ReadOnlySpan<byte> data)
    {
        long table = EnsureL2Table(guestOffset);
        long index = L2Index(guestOffset);
        ulong entry = _l2Cache.Get(table, index);
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
        // The data (and the new cluster's refcount) reach the file now; the entry naming them only at the next
        // metadata flush, after an fdatasync. A failed write (ENOSPC) leaves the entry as it was: the guest gets an
        // I/O error and the image at worst a leaked cluster.
        WriteFile(host, _clusterBuffer);
        _l2Cache.Set(table, index, (ulong)host | Copied);
        if (!preallocatedZero) ReleaseAfterFlush(entry);
    }

    /// <summary>
    /// WRITE_ZEROES and DISCARD: whole clusters become zero clusters (qcow2 v3 L2 bit 0) and, on discard,
    /// lose their host cluster; partial clusters are written with zeros (zeroing) or left alone (discard is advisory).
    /// </summary>
    private void ZeroRange(long offset, long length, bool discard)
    {
        BlockRange.CheckWritable(ReadOnly);
        BlockRange.Check(offset, length, Size);
        using var _ = Exclusive();
        while (length > 0)
        {
            int n = PieceLength(offset, length);
            if (n == _clusterSize && _header.Version >= 3) ZeroCluster(offset, discard);
            else if (!discard) WritePiece(offset, (_zeros ??= new byte[_clusterSize]).AsSpan(0, n));
            offset += n;
            length -= n;
        }
        FlushIfCacheFull();
    }

    private void ZeroCluster(long guestOffset, bool discard)
    {
        ulong entry = LookupL2Entry(guestOffset);
        // Already reads as zeros with nothing allocated: leave the metadata alone.
        if (entry == 0 && _backing is null) return;
        if (Classify(entry) == ClusterKind.Zero && (entry & Qcow2Header.OffsetMask) == 0) return;
        long table = EnsureL2Table(guestOffset);
        ulong replacement;
        if (!discard && Classify(entry) is ClusterKind.Normal or ClusterKind.Zero && (entry & Copied) != 0)
            replacement = (entry & Qcow2Header.OffsetMask) | Copied | ZeroFlag; // keep the allocation, mark it zero
        else
            replacement = _backing is null && discard ? 0 : ZeroFlag;
        _l2Cache.Set(table, L2Index(guestOffset), replacement);
        if ((replacement & Qcow2Header.OffsetMask) == 0) ReleaseAfterFlush(entry);
    }

    /// <summary>The L2 table covering a guest offset, allocating an empty one (or a private copy of a shared one) if needed.</summary>
    private long EnsureL2Table(long guestOffset)
    {
        int l1Index = L1Index(guestOffset);
        long table = L2TableOffset(l1Index);
        if (table != 0 && (_l1[l1Index] & Copied) != 0) return table;
        long shared = table;
        long copy = AllocateCluster();
        // Without COPIED the table is shared with a snapshot: this image gets a copy of its own. The entries keep
        // their flags (what they point at is still shared). The copy lives in the cache until the metadata flush
        // writes it, and the L1 entry after it; the shared table loses this image's reference after both.
        _l2Cache.Install(copy, shared == 0 ? new ulong[_clusterSize / 8] : _l2Cache.Snapshot(shared));
        _l1[l1Index] = (ulong)copy | Copied;
        _dirtyL1.Add(l1Index);
        if (shared != 0) _pendingDrops.Add(shared);
        return copy;
    }

    /// <summary>Drops the reference an old L2 entry held (normal or compressed) after the entry was replaced, right away (snapshot code orders its own writes).</summary>
    private void Release(ulong entry)
    {
        foreach (long host in ReferencedClusters(entry)) DropReference(host);
    }

    /// <summary>As <see cref="Release"/>, once the L2 table without the entry is durable (the next metadata flush).</summary>
    private void ReleaseAfterFlush(ulong entry) => _pendingDrops.AddRange(ReferencedClusters(entry));

    /// <summary>The host clusters an L2 entry holds a reference to: a compressed one counts one on every cluster its bytes touch (qcow2.txt).</summary>
    private List<long> ReferencedClusters(ulong entry)
    {
        var clusters = new List<long>(1);
        switch (Classify(entry))
        {
            case ClusterKind.Compressed:
            {
                var (offset, length) = CompressedRange(entry);
                for (long c = offset >> _clusterBits; c <= (offset + length - 1) >> _clusterBits; c++) clusters.Add(c << _clusterBits);
                break;
            }
            case ClusterKind.Normal:
            case ClusterKind.Zero when (entry & Qcow2Header.OffsetMask) != 0:
                clusters.Add(DataOffset(entry));
                break;
        }
        return clusters;
    }
}
