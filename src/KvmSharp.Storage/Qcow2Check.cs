using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>What <see cref="Qcow2Check.Run"/> found; counts follow qemu-img check's meaning.</summary>
/// <param name="Corruptions">Clusters whose stored refcount is below their references (or references that point nowhere valid): data can be lost.</param>
/// <param name="Leaks">Clusters whose stored refcount is above their references: wasted space, harmless.</param>
/// <param name="AllocatedDataClusters">Guest clusters with data in this image (not in its backing file).</param>
/// <param name="Problems">One line per problem, capped at <see cref="Qcow2Check.MaxProblemLines"/>.</param>
public sealed record Qcow2CheckResult(long Corruptions, long Leaks, long AllocatedDataClusters, IReadOnlyList<string> Problems);

/// <summary>
/// An offline consistency check of a qcow2 image (qemu docs/interop/qcow2.txt): walks every piece of
/// metadata (header, L1, L2, refcount table and blocks) and every data cluster, counts the references to
/// each host cluster, and compares the counts with the stored refcounts, as qemu-img check does: internal
/// snapshots' tables and every L1 table (active and snapshots') add their references. Read-only.
/// The COPIED flags are not checked (qemu-img check does).
/// </summary>
public static class Qcow2Check
{
    public const int MaxProblemLines = 20;

    // L1/L2 entry bits (qcow2.txt, "Cluster mapping").
    private const ulong CompressedFlag = 1UL << 62;
    private const ulong ZeroFlag = 1UL;

    public static Qcow2CheckResult Run(string path) => Run(path, repairLeaks: false).Result;

    /// <summary>
    /// Checks the image and lowers every leaked cluster's refcount to the references counted (qemu-img check -r leaks):
    /// the image is opened for writing, so not while a VM uses it. Corruptions are reported, not repaired (raising a
    /// count to cover a reference could keep a cluster another table reuses). Returns the check after the repair and
    /// how many refcounts were rewritten.
    /// </summary>
    public static (Qcow2CheckResult After, long Repaired) RepairLeaks(string path)
    {
        var (_, repaired) = Run(path, repairLeaks: true);
        return (Run(path), repaired);
    }

    private static (Qcow2CheckResult Result, long Repaired) Run(string path, bool repairLeaks)
    {
        using SafeFileHandle file = DiskImage.OpenHandle(path, readOnly: !repairLeaks);
        long fileLength = RandomAccess.GetLength(file);
        var header = Qcow2Header.Read(file, fileLength, path);
        if (repairLeaks && header.RefcountOrder < 3)
            throw Qcow2Header.Bad(path, $"refcount width {1 << header.RefcountOrder} bits is not supported for repair");
        var snapshots = Qcow2SnapshotTable.Read(file, header, fileLength, path, Qcow2Header.MaxL1Bytes / 8);
        var walk = new Walk(file, header, fileLength, snapshots, repairLeaks);
        var result = walk.Run();
        if (walk.Repaired > 0) HostFile.DataSync(file);
        return (result, walk.Repaired);
    }

    private sealed class Walk(SafeFileHandle file, Qcow2Header header, long fileLength, IReadOnlyList<Qcow2Snapshot> snapshots, bool repairLeaks)
    {
        public long Repaired { get; private set; }

        private readonly long _clusterSize = header.ClusterSize;
        private readonly uint[] _references = new uint[(fileLength + header.ClusterSize - 1) >> header.ClusterBits];
        private readonly List<string> _problems = [];
        private long _corruptions;
        private long _leaks;
        private long _dataClusters;

        public Qcow2CheckResult Run()
        {
            Reference(0, _clusterSize, "header");
            Reference(header.L1TableOffset, header.L1Size * 8L, "L1 table");
            Reference(header.RefcountTableOffset, header.RefcountTableClusters * _clusterSize, "refcount table");
            var cluster = new byte[_clusterSize];
            WalkL1(header.L1TableOffset, header.L1Size, "", cluster, active: true);
            if (snapshots.Count > 0)
                Reference(header.SnapshotsOffset, Qcow2SnapshotTable.Serialize(snapshots).Length, "snapshot table");
            foreach (var snapshot in snapshots)
            {
                string owner = $"snapshot '{snapshot.Name}' ";
                Reference(snapshot.L1TableOffset, snapshot.L1Size * 8L, owner + "L1 table");
                WalkL1(snapshot.L1TableOffset, snapshot.L1Size, owner, cluster, active: false);
            }
            var blocks = ReadRefcountBlocks();
            CompareRefcounts(blocks, cluster);
            return new Qcow2CheckResult(_corruptions, _leaks, _dataClusters, _problems);
        }

        /// <summary>One reference per L1 table to each L2 table it names and to each cluster those map (qemu counts so).</summary>
        private void WalkL1(long l1Offset, int l1Size, string owner, byte[] cluster, bool active)
        {
            for (int i = 0; i < l1Size; i++)
            {
                long l2 = (long)(ReadU64(l1Offset + i * 8L) & Qcow2Header.OffsetMask);
                if (l2 == 0 || !Reference(l2, _clusterSize, $"{owner}L2 table {i}")) continue;
                HostFile.ReadFully(file, l2, cluster);
                for (int j = 0; j < _clusterSize / 8; j++) ReferenceData(BinaryPrimitives.ReadUInt64BigEndian(cluster.AsSpan(j * 8)), active);
            }
        }

        private void ReferenceData(ulong entry, bool active)
        {
            if ((entry & CompressedFlag) != 0)
            {
                // Compressed descriptor: x = 62 - (cluster_bits - 8); offset in bits 0..x-1, extra sectors above.
                int x = 62 - (header.ClusterBits - 8);
                long offset = (long)(entry & ((1UL << x) - 1));
                long sectors = (long)((entry >> x) & ((1UL << (header.ClusterBits - 8)) - 1));
                long length = (sectors + 1) * 512 - (offset & 511);
                // Each host cluster the compressed bytes touch holds one reference (qemu counts them so).
                if (Reference(offset & ~(_clusterSize - 1), (offset & (_clusterSize - 1)) + length, "compressed cluster", aligned: false) && active)
                    _dataClusters++;
                return;
            }
            long host = (long)(entry & Qcow2Header.OffsetMask);
            if (host == 0) return;   // unallocated, or a zero cluster without preallocation
            if (Reference(host, _clusterSize, "data cluster") && (entry & ZeroFlag) == 0 && active) _dataClusters++;
        }

        /// <summary>Counts one reference to each cluster of [offset, offset+length); false (a corruption) when it lies outside the file.</summary>
        private bool Reference(long offset, long length, string what, bool aligned = true)
        {
            if (aligned && (offset & (_clusterSize - 1)) != 0 || offset < 0 || offset >= fileLength && length > 0)
            {
                Problem(ref _corruptions, $"{what} at 0x{offset:x} is misaligned or past the end of the file");
                return false;
            }
            long last = Math.Min(offset + Math.Max(length, 1) - 1, fileLength - 1) >> header.ClusterBits;
            for (long c = offset >> header.ClusterBits; c <= last; c++) _references[c]++;
            return true;
        }

        private long[] ReadRefcountBlocks()
        {
            long entries = header.RefcountTableClusters * _clusterSize / 8;
            var blocks = new long[entries];
            for (long i = 0; i < entries; i++)
            {
                long block = (long)(ReadU64(header.RefcountTableOffset + i * 8) & ~511UL);
                if (block != 0 && Reference(block, _clusterSize, $"refcount block {i}")) blocks[i] = block;
            }
            return blocks;
        }

        private void CompareRefcounts(long[] blocks, byte[] buffer)
        {
            int order = header.RefcountOrder;
            long perBlock = (_clusterSize * 8) >> order;
            long loaded = -1;
            for (long c = 0; c < _references.Length; c++)
            {
                long blockIndex = c / perBlock;
                ulong stored = 0;
                if (blockIndex < blocks.Length && blocks[blockIndex] != 0)
                {
                    if (loaded != blockIndex) HostFile.ReadFully(file, blocks[blockIndex], buffer);
                    loaded = blockIndex;
                    stored = ReadRefcount(buffer, c % perBlock, order);
                }
                if (stored == _references[c]) continue;
                if (stored > _references[c])
                {
                    Problem(ref _leaks, $"leaked cluster {c}: refcount {stored}, references {_references[c]}");
                    if (repairLeaks) RewriteRefcount(blocks[blockIndex], c % perBlock, order, _references[c]);
                }
                else
                    Problem(ref _corruptions, $"cluster {c}: refcount {stored}, references {_references[c]}");
            }
        }

        /// <summary>Stores a refcount (2^order bits, order 3 or more, big-endian) in the file's refcount block.</summary>
        private void RewriteRefcount(long block, long index, int order, ulong value)
        {
            int width = (1 << order) / 8;
            Span<byte> bytes = stackalloc byte[8];
            for (int i = 0; i < width; i++) bytes[i] = (byte)(value >> (8 * (width - 1 - i)));
            RandomAccess.Write(file, bytes[..width], block + index * width);
            Repaired++;
        }

        /// <summary>Entry <paramref name="index"/> of a refcount block with 2^order-bit big-endian entries (qcow2.txt).</summary>
        private static ulong ReadRefcount(byte[] block, long index, int order)
        {
            int bits = 1 << order;
            if (bits >= 8)
            {
                var at = block.AsSpan((int)(index * (bits / 8)), bits / 8);
                ulong value = 0;
                foreach (byte b in at) value = value << 8 | b;
                return value;
            }
            long bit = index * bits;
            // Sub-byte refcounts are packed from the least significant bit of each byte.
            return (ulong)(block[bit / 8] >> (int)(bit % 8)) & ((1UL << bits) - 1);
        }

        private void Problem(ref long counter, string line)
        {
            counter++;
            if (_problems.Count < MaxProblemLines) _problems.Add(line);
        }

        private ulong ReadU64(long offset)
        {
            Span<byte> b = stackalloc byte[8];
            HostFile.ReadFully(file, offset, b);
            return BinaryPrimitives.ReadUInt64BigEndian(b);
        }
    }
}
