using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>
/// One internal snapshot of a qcow2 image (qcow2.txt, "Snapshot table"): a frozen copy of the L1 table whose
/// clusters the active image shares copy-on-write. <paramref name="ExtraData"/> keeps the entry's extra data as
/// read (fields we do not interpret survive a rewrite of the table).
/// </summary>
public sealed record Qcow2Snapshot(
    string Id, string Name, long L1TableOffset, int L1Size, uint DateSeconds, uint DateNanoseconds,
    ulong VmClockNanoseconds, long VmStateSize, long DiskSize, byte[] ExtraData);

/// <summary>
/// Reads and writes the snapshot table. An entry: l1_table_offset (8), l1_size (4), id_str_size (2), name_size (2),
/// date_sec (4), date_nsec (4), vm_clock_nsec (8), vm_state_size (4), extra_data_size (4), extra data (version 3
/// needs at least vm_state_size_large (8) and disk_size (8); icount (8) may follow), the id, the name (neither
/// NUL-terminated), padding to 8 bytes. Every count and length is checked against the file and qemu's own limits.
/// </summary>
internal static class Qcow2SnapshotTable
{
    /// <summary>qemu's limits (QCOW_MAX_SNAPSHOTS, QCOW_MAX_SNAPSHOT_EXTRA_DATA, QCOW_MAX_SNAPSHOTS_SIZE).</summary>
    public const int MaxSnapshots = 65536;
    private const int MaxExtraData = 1024;
    private const long MaxTableBytes = 64L << 20;
    private const int FixedLength = 40;
    /// <summary>What we write as extra data: vm_state_size_large, disk_size and icount (-1: none), as qemu does.</summary>
    public const int OurExtraData = 24;

    public static List<Qcow2Snapshot> Read(SafeFileHandle file, Qcow2Header header, long fileLength, string path, long maxL1Entries)
    {
        var snapshots = new List<Qcow2Snapshot>(header.SnapshotCount);
        long at = header.SnapshotsOffset;
        Span<byte> fixedPart = stackalloc byte[FixedLength];
        for (int i = 0; i < header.SnapshotCount; i++)
        {
            if (at - header.SnapshotsOffset + FixedLength > MaxTableBytes || at + FixedLength > fileLength)
                throw Qcow2Header.Bad(path, $"snapshot table entry {i} runs past the end of the file or qemu's 64 MiB limit");
            HostFile.ReadFully(file, at, fixedPart);
            long l1Offset = (long)BinaryPrimitives.ReadUInt64BigEndian(fixedPart);
            uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[8..]);
            int idLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[12..]);
            int nameLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
            uint extraLength = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[36..]);
            if (extraLength > MaxExtraData) throw Qcow2Header.Bad(path, $"snapshot {i} has {extraLength} bytes of extra data (at most {MaxExtraData})");
            if (header.Version >= 3 && extraLength < 16) throw Qcow2Header.Bad(path, $"snapshot {i} lacks the extra data version 3 requires");
            if (l1Size > maxL1Entries) throw Qcow2Header.Bad(path, $"snapshot {i}'s L1 table of {l1Size} entries is too large");
            if ((l1Offset & (header.ClusterSize - 1)) != 0 || l1Offset < header.ClusterSize || l1Offset + l1Size * 8L > fileLength)
                throw Qcow2Header.Bad(path, $"snapshot {i}'s L1 table at 0x{l1Offset:x} is misaligned or outside the file");
            long variable = extraLength + idLength + nameLength;
            if (at + FixedLength + variable > fileLength) throw Qcow2Header.Bad(path, $"snapshot table entry {i} runs past the end of the file");
            var rest = new byte[variable];
            HostFile.ReadFully(file, at + FixedLength, rest);
            byte[] extra = rest[..(int)extraLength];
            long vmState = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[32..]);
            long diskSize = header.Size;
            if (extraLength >= 8) vmState = (long)BinaryPrimitives.ReadUInt64BigEndian(extra);
            if (extraLength >= 16) diskSize = (long)BinaryPrimitives.ReadUInt64BigEndian(extra.AsSpan(8));
            snapshots.Add(new Qcow2Snapshot(
                Decode(rest.AsSpan((int)extraLength, idLength), path), Decode(rest.AsSpan((int)extraLength + idLength, nameLength), path),
                l1Offset, (int)l1Size, BinaryPrimitives.ReadUInt32BigEndian(fixedPart[16..]), BinaryPrimitives.ReadUInt32BigEndian(fixedPart[20..]),
                BinaryPrimitives.ReadUInt64BigEndian(fixedPart[24..]), vmState, diskSize, extra));
            at += (FixedLength + variable + 7) & ~7L;
        }
        return snapshots;
    }

    /// <summary>The table's bytes for <paramref name="snapshots"/>, each entry padded to 8 bytes.</summary>
    public static byte[] Serialize(IReadOnlyList<Qcow2Snapshot> snapshots)
    {
        var table = new MemoryStream();
        Span<byte> fixedPart = stackalloc byte[FixedLength];
        foreach (var s in snapshots)
        {
            byte[] id = Encoding.UTF8.GetBytes(s.Id), name = Encoding.UTF8.GetBytes(s.Name);
            BinaryPrimitives.WriteUInt64BigEndian(fixedPart, (ulong)s.L1TableOffset);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[8..], (uint)s.L1Size);
            BinaryPrimitives.WriteUInt16BigEndian(fixedPart[12..], (ushort)id.Length);
            BinaryPrimitives.WriteUInt16BigEndian(fixedPart[14..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[16..], s.DateSeconds);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[20..], s.DateNanoseconds);
            BinaryPrimitives.WriteUInt64BigEndian(fixedPart[24..], s.VmClockNanoseconds);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[32..], (uint)Math.Min(s.VmStateSize, uint.MaxValue));
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[36..], (uint)s.ExtraData.Length);
            table.Write(fixedPart);
            table.Write(s.ExtraData);
            table.Write(id);
            table.Write(name);
            while (table.Length % 8 != 0) table.WriteByte(0);
        }
        return table.ToArray();
    }

    /// <summary>Extra data for a snapshot we take: no VM state inside the image (ours is in the manager's files), the disk's size, no icount.</summary>
    public static byte[] ExtraDataFor(long diskSize)
    {
        var extra = new byte[OurExtraData];
        BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(8), (ulong)diskSize);
        BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(16), ulong.MaxValue);
        return extra;
    }

    /// <summary>A name or id a snapshot may have: what qemu-img accepts, without NUL bytes or a length its 16-bit fields cannot hold.</summary>
    public static string? NameProblem(string name)
    {
        if (name.Length == 0) return "is empty";
        if (name.Contains('\0')) return "contains a NUL character";
        if (Encoding.UTF8.GetByteCount(name) > ushort.MaxValue) return "is longer than 65535 bytes";
        return null;
    }

    private static string Decode(ReadOnlySpan<byte> bytes, string path)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Qcow2Header.Bad(path, "a snapshot's id or name is not UTF-8");
        }
    }
}
