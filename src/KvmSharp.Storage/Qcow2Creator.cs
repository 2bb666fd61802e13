using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Storage;

/// <summary>
/// Writes a new, empty qcow2 version 3 image (qcow2.txt). Layout: cluster 0 header (with the
/// backing file name), cluster 1 refcount table, cluster 2 its first refcount block, then the L1 table;
/// 16-bit refcounts, no compression-type or other optional features.
/// </summary>
public static class Qcow2Creator
{
    private const int HeaderLength = 112; // v3 fields, the compression_type byte, padded to 8 (qcow2.txt)

    /// <summary>Creates <paramref name="path"/> (which must not exist) with a virtual size of <paramref name="size"/> bytes.</summary>
    public static void Create(string path, long size, int clusterBits = 16, string? backingFile = null)
    {
        if (clusterBits is < 9 or > 21) throw new ArgumentOutOfRangeException(nameof(clusterBits), clusterBits, "cluster bits must be 9..21");
        if (size < 0 || size > 1L << 56) throw new ArgumentOutOfRangeException(nameof(size), size, "size must be 0..2^56 bytes");
        size = (size + 511) & ~511L; // qemu keeps virtual sizes in whole sectors
        long clusterSize = 1L << clusterBits;
        long l1Entries = (size + (clusterSize * (clusterSize / 8)) - 1) / (clusterSize * (clusterSize / 8));
        long l1Clusters = Math.Max(1, (l1Entries * 8 + clusterSize - 1) / clusterSize);
        long metadataClusters = 3 + l1Clusters;
        if (metadataClusters > clusterSize / 2)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"too large for {clusterSize}-byte clusters; use bigger clusters");

        var cluster0 = new byte[clusterSize];
        var h = cluster0.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(h, Qcow2Header.Magic);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], 3);
        BinaryPrimitives.WriteUInt32BigEndian(h[20..], (uint)clusterBits);
        BinaryPrimitives.WriteUInt64BigEndian(h[24..], (ulong)size);
        BinaryPrimitives.WriteUInt32BigEndian(h[36..], (uint)l1Entries);
        BinaryPrimitives.WriteUInt64BigEndian(h[40..], (ulong)(3 * clusterSize));
        BinaryPrimitives.WriteUInt64BigEndian(h[48..], (ulong)clusterSize);
        BinaryPrimitives.WriteUInt32BigEndian(h[56..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(h[96..], 4);
        BinaryPrimitives.WriteUInt32BigEndian(h[100..], HeaderLength);
        int at = HeaderLength;
        if (backingFile is not null) at = WriteBacking(path, backingFile, cluster0, at);
        else at += 8; // the end-of-extensions marker is all zeros

        var refcountTable = new byte[clusterSize];
        BinaryPrimitives.WriteUInt64BigEndian(refcountTable, (ulong)(2 * clusterSize));
        var refcountBlock = new byte[clusterSize];
        for (int i = 0; i < metadataClusters; i++) BinaryPrimitives.WriteUInt16BigEndian(refcountBlock.AsSpan(i * 2), 1);

        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        RandomAccess.Write(file, cluster0, 0);
        RandomAccess.Write(file, refcountTable, clusterSize);
        RandomAccess.Write(file, refcountBlock, 2 * clusterSize);
        RandomAccess.Write(file, new byte[l1Clusters * clusterSize], 3 * clusterSize);
    }

    /// <summary>The backing-format extension, the end marker, then the name itself (qcow2.txt, header bytes 8-19).</summary>
    private static int WriteBacking(string path, string backingFile, byte[] cluster0, int at)
    {
        string format;
        // Opening it (not only probing) checks that the backing image is usable before we name it.
        using (var backing = DiskImage.Open(DiskImage.ResolveBacking(path, backingFile), null, readOnly: true))
            format = backing is Qcow2Image ? "qcow2" : "raw";
        byte[] name = Encoding.UTF8.GetBytes(backingFile);
        byte[] formatName = Encoding.UTF8.GetBytes(format);
        int nameAt = at + 8 + ((formatName.Length + 7) & ~7) + 8;
        if (name.Length > 1023 || nameAt + name.Length > cluster0.Length)
            throw new ArgumentException($"backing file name '{backingFile}' does not fit in the header cluster", nameof(backingFile));
        var h = cluster0.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(h[at..], Qcow2Header.ExtBackingFormat);
        BinaryPrimitives.WriteUInt32BigEndian(h[(at + 4)..], (uint)formatName.Length);
        formatName.CopyTo(h[(at + 8)..]);
        name.CopyTo(h[nameAt..]);
        BinaryPrimitives.WriteUInt64BigEndian(h[8..], (ulong)nameAt);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], (uint)name.Length);
        return nameAt + name.Length;
    }
}
