using System.Buffers.Binary;

namespace KvmSharp.Storage;

/// <summary>
/// Internal snapshots (qcow2.txt, "Snapshot table"), the way qemu-img and QEMU keep them, so `qemu-img snapshot -l`
/// lists ours and QEMU can revert to them. A snapshot is a copy of the L1 table; every L2 table and data cluster it
/// reaches holds one more reference, so the active image copies a cluster before writing it (COPIED is set only
/// where the refcount is 1). A cluster's refcount counts the L1 tables that reach it, which is what qemu-img check
/// counts. Each operation orders its writes (with fdatasync between) so that a crash at any point can leave leaked
/// clusters, never a cluster referenced with too low a count.
/// </summary>
public sealed partial class Qcow2Image
{
    private List<Qcow2Snapshot> _snapshots;

    /// <summary>The image's internal snapshots, oldest first.</summary>
    public IReadOnlyList<Qcow2Snapshot> Snapshots { get { using (Exclusive()) return [.. _snapshots]; } }

    /// <summary>
    /// Takes an internal snapshot of the disk as it is now, named <paramref name="name"/> (which must be new). Call with
    /// no request in flight that should be in it (a paused machine); writes after it return go to copies.
    /// </summary>
    public Qcow2Snapshot CreateSnapshot(string name)
    {
        BlockRange.CheckWritable(ReadOnly);
        CheckNewName(name);
        using (BeginTableChange())
        {
            if (Find(name) is not null) throw new DiskSnapshotException($"'{_path}' already has a snapshot named '{name}'");
            // Data first, then the references: until the table names the snapshot, the raised counts are leaks.
            _file.Sync();
            AddReferences(_l1, +1);
            RefreshCopiedFlags();
            long l1Copy = AllocateRegion(_l1.Length * 8L);
            WriteFile(l1Copy, TableBytes(_l1, _l1.Length));
            var now = DateTimeOffset.UtcNow;
            long unixNanoseconds = (now - DateTimeOffset.UnixEpoch).Ticks * 100;
            int nextId = 1 + _snapshots.Select(s => int.TryParse(s.Id, out int id) ? id : 0).DefaultIfEmpty(0).Max();
            var snapshot = new Qcow2Snapshot(nextId.ToString(System.Globalization.CultureInfo.InvariantCulture), name, l1Copy, _l1.Length,
                (uint)(unixNanoseconds / 1_000_000_000), (uint)(unixNanoseconds % 1_000_000_000), 0, 0, Size, Qcow2SnapshotTable.ExtraDataFor(Size));
            WriteSnapshotTable([.. _snapshots, snapshot]);
            return snapshot;
        }
    }

    /// <summary>
    /// Makes the disk what it was when snapshot <paramref name="name"/> was taken (qemu-img snapshot -a). Only with no
    /// guest using the image: its cached view of the disk would be wrong afterwards.
    /// </summary>
    public void RevertToSnapshot(string name)
    {
        BlockRange.CheckWritable(ReadOnly);
        using (BeginTableChange())
        {
            var snapshot = Find(name) ?? throw NotFound(name);
            if (snapshot.DiskSize != Size || snapshot.L1Size > _l1.Length)
                throw new DiskSnapshotException($"'{_path}': snapshot '{name}' was taken at another disk size ({snapshot.DiskSize} bytes, now {Size}); resizing is not supported");
            ulong[] target = ReadTable(snapshot.L1TableOffset, snapshot.L1Size);
            ulong[] old = [.. _l1];
            // The snapshot's clusters gain the active image's reference before the L1 switches to them; the clusters
            // left behind lose theirs after. In between a crash only leaks.
            _file.Sync();
            AddReferences(target, +1);
            _file.Sync();
            Array.Clear(_l1);
            target.CopyTo(_l1, 0);
            WriteFile(_header.L1TableOffset, TableBytes(_l1, _l1.Length));
            _file.Sync();
            AddReferences(old, -1);
            RefreshCopiedFlags();
            _file.Sync();
            _decompressedEntry = 0;
        }
    }

    /// <summary>Deletes snapshot <paramref name="name"/> (qemu-img snapshot -d); clusters only it reached are freed.</summary>
    public void DeleteSnapshot(string name)
    {
        BlockRange.CheckWritable(ReadOnly);
        using (BeginTableChange())
        {
            var snapshot = Find(name) ?? throw NotFound(name);
            ulong[] table = ReadTable(snapshot.L1TableOffset, snapshot.L1Size);
            // The table forgets the snapshot first: from then on its references are leaks until dropped.
            WriteSnapshotTable([.. _snapshots.Where(s => !ReferenceEquals(s, snapshot))]);
            AddReferences(table, -1);
            for (long at = 0; at < snapshot.L1Size * 8L; at += _clusterSize) DropReference(snapshot.L1TableOffset + at);
            RefreshCopiedFlags();
            _file.Sync();
        }
    }

    /// <summary>
    /// The exclusive lock for a snapshot operation, which reads and writes L1 and L2 tables in the file directly: the
    /// cached metadata is written back first, and the L2 cache forgotten before and after.
    /// </summary>
    private TableChangeScope BeginTableChange()
    {
        var scope = Exclusive();
        try
        {
            FlushMetadata();
            _l2Cache.Clear();
            return new TableChangeScope(scope, _l2Cache);
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    private readonly struct TableChangeScope(ExclusiveScope exclusive, Qcow2L2Cache cache) : IDisposable
    {
        public void Dispose()
        {
            cache.Clear();
            exclusive.Dispose();
        }
    }

    private Qcow2Snapshot? Find(string name) => _snapshots.FirstOrDefault(s => s.Name == name);

    private DiskSnapshotException NotFound(string name) => new($"'{_path}' has no snapshot named '{name}'");

    private static void CheckNewName(string name)
    {
        if (Qcow2SnapshotTable.NameProblem(name) is { } problem) throw new DiskSnapshotException($"snapshot name '{name}' {problem}");
    }

    /// <summary>
    /// Adds <paramref name="addend"/> to the refcount of every L2 table <paramref name="l1"/> names and every host cluster
    /// those tables map (compressed data: each cluster its bytes touch), as qemu's snapshot code counts them.
    /// </summary>
    private void AddReferences(ulong[] l1, int addend)
    {
        var l2 = new byte[_clusterSize];
        foreach (ulong l1Entry in l1)
        {
            long table = (long)(l1Entry & Qcow2Header.OffsetMask);
            if (table == 0) continue;
            CheckMetadataCluster(table, "L2 table");
            _file.Read(table, l2);
            for (int i = 0; i < l2.Length; i += 8)
            {
                ulong entry = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(i));
                if (addend < 0) { Release(entry); continue; }
                switch (Classify(entry))
                {
                    case ClusterKind.Compressed:
                        var (offset, length) = CompressedRange(entry);
                        for (long c = offset >> _clusterBits; c <= (offset + length - 1) >> _clusterBits; c++) IncrementRefcount(c << _clusterBits);
                        break;
                    case ClusterKind.Normal:
                    case ClusterKind.Zero when (entry & Qcow2Header.OffsetMask) != 0:
                        IncrementRefcount(DataOffset(entry));
                        break;
                }
            }
            if (addend < 0) DropReference(table);
            else IncrementRefcount(table);
        }
    }

    private void IncrementRefcount(long host)
    {
        ulong count = GetRefcount(host);
        ulong max = _header.RefcountOrder >= 6 ? ulong.MaxValue : (1UL << (1 << _header.RefcountOrder)) - 1;
        if (count == 0) throw Qcow2Header.Bad(_path, $"cluster at 0x{host:x} is in use but its refcount is 0");
        if (count == max) throw new DiskSnapshotException($"'{_path}': cluster at 0x{host:x} is shared by too many snapshots for {1 << _header.RefcountOrder}-bit refcounts");
        SetRefcount(host, count + 1);
    }

    /// <summary>
    /// COPIED on the active image's L1 and L2 entries exactly where the cluster's refcount is 1 (qcow2.txt: set only
    /// then, never on compressed clusters), so writes copy what a snapshot still shares and only that.
    /// </summary>
    private void RefreshCopiedFlags()
    {
        var l2 = new byte[_clusterSize];
        for (int i = 0; i < _l1.Length; i++)
        {
            long table = (long)(_l1[i] & Qcow2Header.OffsetMask);
            if (table == 0) continue;
            CheckMetadataCluster(table, "L2 table");
            _file.Read(table, l2);
            bool changed = false;
            for (int j = 0; j < l2.Length; j += 8)
            {
                ulong entry = BinaryPrimitives.ReadUInt64BigEndian(l2.AsSpan(j));
                ClusterKind kind = Classify(entry);
                bool hasHost = kind == ClusterKind.Normal || kind == ClusterKind.Zero && (entry & Qcow2Header.OffsetMask) != 0;
                ulong wanted = hasHost && GetRefcount(DataOffset(entry)) == 1 ? entry | Copied : entry & ~Copied;
                if (wanted == entry) continue;
                BinaryPrimitives.WriteUInt64BigEndian(l2.AsSpan(j), wanted);
                changed = true;
            }
            if (changed) WriteFile(table, l2);
            ulong l1Wanted = GetRefcount(table) == 1 ? _l1[i] | Copied : _l1[i] & ~Copied;
            if (l1Wanted != _l1[i])
            {
                _l1[i] = l1Wanted;
                WriteU64(_header.L1TableOffset + i * 8L, l1Wanted);
            }
        }
    }

    /// <summary>Writes <paramref name="snapshots"/> as a new table, switches the header to it in one write, then frees the old one.</summary>
    private void WriteSnapshotTable(List<Qcow2Snapshot> snapshots)
    {
        byte[] bytes = Qcow2SnapshotTable.Serialize(snapshots);
        long oldOffset = _header.SnapshotsOffset;
        long oldLength = _snapshots.Count == 0 ? 0 : Qcow2SnapshotTable.Serialize(_snapshots).Length;
        long offset = 0;
        if (bytes.Length > 0)
        {
            offset = AllocateRegion(bytes.Length);
            WriteFile(offset, bytes);
        }
        _file.Sync();
        Span<byte> fields = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(fields, (uint)snapshots.Count);
        BinaryPrimitives.WriteUInt64BigEndian(fields[4..], (ulong)offset);
        WriteFile(Qcow2Header.Offset_SnapshotCount, fields);
        _file.Sync();
        _header.SnapshotCount = snapshots.Count;
        _header.SnapshotsOffset = offset;
        _snapshots = snapshots;
        for (long at = 0; at < oldLength; at += _clusterSize) DropReference(oldOffset + at);
    }

    /// <summary>Contiguous whole clusters for <paramref name="bytes"/> bytes at the end of the file, zero-filled, refcount 1 each.</summary>
    private long AllocateRegion(long bytes)
    {
        long length = AlignUp(Math.Max(bytes, 1));
        long offset = _nextFree;
        _nextFree += length;
        WriteFile(offset, new byte[length]);
        for (long at = 0; at < length; at += _clusterSize) SetRefcount(offset + at, 1);
        return offset;
    }

    private ulong[] ReadTable(long offset, int entries)
    {
        var raw = new byte[entries * 8L];
        _file.Read(offset, raw);
        var table = new ulong[entries];
        for (int i = 0; i < entries; i++) table[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        return table;
    }

    private static byte[] TableBytes(ulong[] table, int entries)
    {
        var raw = new byte[entries * 8L];
        for (int i = 0; i < entries; i++) BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), table[i]);
        return raw;
    }
}

/// <summary>An internal snapshot operation refused: a name taken or missing, a disk resized since, refcounts at their limit.</summary>
public sealed class DiskSnapshotException(string message) : IOException(message);
