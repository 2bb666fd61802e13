using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>
/// The qcow2 header (qemu docs/interop/qcow2.txt, "Header"), big-endian, parsed and checked
/// against the file size: every offset and count read from an image is hostile until checked, so a
/// corrupt image gives an <see cref="ImageFormatException"/>, never a wild read or a huge allocation.
/// </summary>
internal sealed class Qcow2Header
{
    public const uint Magic = 0x514649FB; // "QFI\xfb"
    public const int V3Length = 104;
    public const int Offset_RefcountTableOffset = 48;
    public const int Offset_RefcountTableClusters = 56;
    public const int Offset_SnapshotCount = 60;
    public const int Offset_IncompatibleFeatures = 72;
    public const int Offset_AutoclearFeatures = 88;

    // Incompatible feature bits (qcow2.txt, header bytes 72-79).
    public const ulong IncompatDirty = 1UL << 0;
    public const ulong IncompatCorrupt = 1UL << 1;
    public const ulong IncompatExternalData = 1UL << 2;
    public const ulong IncompatCompressionType = 1UL << 3;
    public const ulong IncompatExtendedL2 = 1UL << 4;

    // Header extension types (qcow2.txt, "Header extensions").
    public const uint ExtEnd = 0;
    public const uint ExtBackingFormat = 0xE2792ACA;

    /// <summary>Largest L1 table we accept (qemu's own limit is 32 MiB), bounding the memory a header can make us use.</summary>
    public const long MaxL1Bytes = 32L << 20;
    /// <summary>Host offsets in L1/L2/refcount entries are bits 9-55 (qcow2.txt).</summary>
    public const ulong OffsetMask = 0x00FF_FFFF_FFFF_FE00UL;

    public int Version { get; private init; }
    public int ClusterBits { get; private init; }
    public long ClusterSize => 1L << ClusterBits;
    public long Size { get; private init; }
    public int L1Size { get; private init; }
    public long L1TableOffset { get; private init; }
    public long RefcountTableOffset { get; set; }
    public int RefcountTableClusters { get; set; }
    public int SnapshotCount { get; set; }
    public long SnapshotsOffset { get; set; }
    public ulong IncompatibleFeatures { get; private init; }
    public ulong AutoclearFeatures { get; private init; }
    public int RefcountOrder { get; private init; }
    public string? BackingFile { get; private init; }
    public string? BackingFormat { get; private init; }

    /// <summary>Reads the first cluster of <paramref name="file"/> (its size taken from the header) and parses it.</summary>
    public static Qcow2Header Read(SafeFileHandle file, long fileLength, string path)
    {
        Span<byte> fixedPart = stackalloc byte[V3Length];
        HostFile.ReadFully(file, 0, fixedPart);
        uint bits = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[20..]);
        var cluster0 = new byte[bits is >= 9 and <= 21 ? 1 << (int)bits : V3Length];
        HostFile.ReadFully(file, 0, cluster0);
        return Parse(cluster0, fileLength, path);
    }

    public static Qcow2Header Parse(ReadOnlySpan<byte> cluster0, long fileLength, string path)
    {
        if (cluster0.Length < V3Length || BinaryPrimitives.ReadUInt32BigEndian(cluster0) != Magic)
            throw Bad(path, "not a qcow2 image (bad magic)");
        int version = (int)BinaryPrimitives.ReadUInt32BigEndian(cluster0[4..]);
        if (version is not (2 or 3)) throw Bad(path, $"qcow2 version {version} is not supported (2 and 3 are)");

        uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(cluster0[20..]);
        // qcow2.txt: cluster_bits must be at least 9; qemu caps it at 21 (2 MiB clusters).
        if (clusterBits is < 9 or > 21) throw Bad(path, $"cluster_bits {clusterBits} is outside 9..21");
        long clusterSize = 1L << (int)clusterBits;
        if (fileLength < clusterSize && fileLength < V3Length) throw Bad(path, "file is shorter than its header");

        ulong size = BinaryPrimitives.ReadUInt64BigEndian(cluster0[24..]);
        if (size > (1UL << 56)) throw Bad(path, $"virtual size {size} is absurd");
        if (BinaryPrimitives.ReadUInt32BigEndian(cluster0[32..]) != 0) throw Bad(path, "encrypted images are not supported");

        uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(cluster0[36..]);
        ulong l1Offset = BinaryPrimitives.ReadUInt64BigEndian(cluster0[40..]);
        long l2Entries = clusterSize / 8;
        ulong needL1 = (size + (ulong)(clusterSize * l2Entries) - 1) / (ulong)(clusterSize * l2Entries);
        if (l1Size < needL1) throw Bad(path, $"L1 table has {l1Size} entries, the virtual size needs {needL1}");
        if ((long)l1Size * 8 > MaxL1Bytes) throw Bad(path, $"L1 table of {l1Size} entries is too large");
        CheckTable(path, "L1 table", l1Offset, (ulong)l1Size * 8, clusterSize, fileLength);

        ulong refOffset = BinaryPrimitives.ReadUInt64BigEndian(cluster0[48..]);
        uint refClusters = BinaryPrimitives.ReadUInt32BigEndian(cluster0[56..]);
        if (refClusters == 0) throw Bad(path, "refcount table has no clusters");
        CheckTable(path, "refcount table", refOffset, (ulong)refClusters * (ulong)clusterSize, clusterSize, fileLength);

        uint snapshots = BinaryPrimitives.ReadUInt32BigEndian(cluster0[60..]);
        if (snapshots > Qcow2SnapshotTable.MaxSnapshots) throw Bad(path, $"{snapshots} snapshots is absurd (at most {Qcow2SnapshotTable.MaxSnapshots})");
        ulong snapshotsOffset = BinaryPrimitives.ReadUInt64BigEndian(cluster0[64..]);
        if (snapshots > 0) CheckTable(path, "snapshot table", snapshotsOffset, 1, clusterSize, fileLength);

        ulong incompatible = 0, autoclear = 0;
        uint refcountOrder = 4, headerLength = 72;
        if (version == 3)
        {
            incompatible = BinaryPrimitives.ReadUInt64BigEndian(cluster0[72..]);
            autoclear = BinaryPrimitives.ReadUInt64BigEndian(cluster0[88..]);
            refcountOrder = BinaryPrimitives.ReadUInt32BigEndian(cluster0[96..]);
            headerLength = BinaryPrimitives.ReadUInt32BigEndian(cluster0[100..]);
            if (headerLength < V3Length || headerLength > clusterSize || headerLength % 8 != 0 && headerLength != V3Length)
                throw Bad(path, $"header_length {headerLength} is invalid");
            if (refcountOrder > 6) throw Bad(path, $"refcount_order {refcountOrder} is invalid (at most 6)");
            CheckFeatures(path, incompatible, headerLength, cluster0);
        }

        string? backingFormat = ReadExtensions(path, cluster0, (int)headerLength, clusterSize);
        string? backingFile = ReadBackingName(path, cluster0, clusterSize);
        return new Qcow2Header
        {
            Version = version, ClusterBits = (int)clusterBits, Size = (long)size, L1Size = (int)l1Size,
            L1TableOffset = (long)l1Offset, RefcountTableOffset = (long)refOffset, RefcountTableClusters = (int)refClusters,
            SnapshotCount = (int)snapshots, SnapshotsOffset = snapshots > 0 ? (long)snapshotsOffset : 0, IncompatibleFeatures = incompatible, AutoclearFeatures = autoclear,
            RefcountOrder = (int)refcountOrder, BackingFile = backingFile, BackingFormat = backingFormat,
        };
    }

    private static void CheckFeatures(string path, ulong incompatible, uint headerLength, ReadOnlySpan<byte> cluster0)
    {
        if ((incompatible & IncompatDirty) != 0)
            throw Bad(path, "the image is marked dirty (lazy refcounts were not written back); repair it with 'qemu-img check -r all'");
        if ((incompatible & IncompatExternalData) != 0) throw Bad(path, "external data files are not supported");
        if ((incompatible & IncompatExtendedL2) != 0) throw Bad(path, "extended L2 entries (subclusters) are not supported");
        if ((incompatible & IncompatCompressionType) != 0)
        {
            byte type = headerLength > V3Length ? cluster0[V3Length] : (byte)0;
            if (type != 0) throw Bad(path, $"compression type {type} is not supported (only zlib/deflate)");
        }
        ulong unknown = incompatible & ~(IncompatDirty | IncompatCorrupt | IncompatExternalData | IncompatCompressionType | IncompatExtendedL2);
        if (unknown != 0) throw Bad(path, $"unknown incompatible features 0x{unknown:x}");
    }

    private static string? ReadExtensions(string path, ReadOnlySpan<byte> cluster0, int headerLength, long clusterSize)
    {
        string? backingFormat = null;
        int at = headerLength;
        while (true)
        {
            if (at + 8 > cluster0.Length) throw Bad(path, "header extensions run past the first cluster");
            uint type = BinaryPrimitives.ReadUInt32BigEndian(cluster0[at..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(cluster0[(at + 4)..]);
            at += 8;
            if (type == ExtEnd) return backingFormat;
            if (length > clusterSize - at) throw Bad(path, "a header extension runs past the first cluster");
            if (type == ExtBackingFormat) backingFormat = Encoding.UTF8.GetString(cluster0.Slice(at, (int)length));
            at += (int)((length + 7) & ~7u);
        }
    }

    private static string? ReadBackingName(string path, ReadOnlySpan<byte> cluster0, long clusterSize)
    {
        ulong offset = BinaryPrimitives.ReadUInt64BigEndian(cluster0[8..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(cluster0[16..]);
        if (offset == 0) return null;
        // qcow2.txt: the name lives in the first cluster and is at most 1023 bytes.
        if (length == 0 || length > 1023 || offset >= (ulong)clusterSize || offset + length > (ulong)cluster0.Length)
            throw Bad(path, "backing file name lies outside the first cluster");
        var name = cluster0.Slice((int)offset, (int)length);
        if (name.Contains((byte)0)) throw Bad(path, "backing file name contains a NUL byte");
        return Encoding.UTF8.GetString(name);
    }

    private static void CheckTable(string path, string what, ulong offset, ulong bytes, long clusterSize, long fileLength)
    {
        if (offset % (ulong)clusterSize != 0) throw Bad(path, $"{what} offset 0x{offset:x} is not cluster-aligned");
        if (offset == 0 && bytes > 0) throw Bad(path, $"{what} overlaps the header");
        if (offset > (ulong)fileLength || bytes > (ulong)fileLength - offset)
            throw Bad(path, $"{what} at 0x{offset:x} ({bytes} bytes) runs past the end of the {fileLength}-byte file");
    }

    public static ImageFormatException Bad(string path, string why) => new($"'{path}': {why}");
}
