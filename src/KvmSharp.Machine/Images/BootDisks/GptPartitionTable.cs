using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>One GPT partition: its type, its own GUID, its first and last sector (inclusive) and its name.</summary>
public sealed record GptPartition(Guid Type, Guid Id, ulong FirstLba, ulong LastLba, string Name);

/// <summary>
/// A GUID Partition Table as UEFI 2.10 §5.3 lays it out on a disk of 512-byte sectors: the protective MBR at LBA 0,
/// the header at LBA 1 and its 128 entries of 128 bytes from LBA 2, and the same entries and a backup header at the
/// end of the disk (the header's CRC-32 covers its 92 bytes with the CRC field zero; a second CRC covers the entries).
/// GUIDs are stored in the mixed-endian form .NET's <see cref="Guid.TryWriteBytes(Span{byte})"/> writes, which is the
/// spec's (Appendix A).
/// </summary>
public static class GptPartitionTable
{
    public static readonly Guid EfiSystemPartition = new("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    public static readonly Guid LinuxFilesystem = new("0FC63DAF-8483-4772-8E79-3D69D8477DE4");

    public const int Sector = 512, EntryCount = 128, EntrySize = 128;
    private const int HeaderSize = 92;
    /// <summary>The sectors a table takes at each end besides LBA 0: the header and 32 sectors of entries.</summary>
    public const ulong TableSectors = 1 + EntryCount * EntrySize / Sector;
    public const ulong FirstUsableLba = 1 + TableSectors;

    /// <summary>The last sector a partition may use on a disk of <paramref name="diskSectors"/> sectors.</summary>
    public static ulong LastUsableLba(ulong diskSectors) => diskSectors - 1 - TableSectors;

    /// <summary>Writes the protective MBR and both copies of the table over <paramref name="disk"/>, <paramref name="diskSectors"/> long.</summary>
    public static void Write(SafeFileHandle disk, ulong diskSectors, Guid diskId, IReadOnlyList<GptPartition> partitions)
    {
        if (partitions.Count > EntryCount) throw new ArgumentException($"a GPT holds {EntryCount} partitions");
        foreach (var p in partitions)
            if (p.FirstLba < FirstUsableLba || p.LastLba < p.FirstLba || p.LastLba > LastUsableLba(diskSectors) || p.Name.Length > 36)
                throw new ArgumentException($"partition '{p.Name}' ({p.FirstLba}-{p.LastLba}) does not fit a disk of {diskSectors} sectors");
        var entries = new byte[EntryCount * EntrySize];
        for (int i = 0; i < partitions.Count; i++)
        {
            var entry = entries.AsSpan(i * EntrySize, EntrySize);
            partitions[i].Type.TryWriteBytes(entry);
            partitions[i].Id.TryWriteBytes(entry[16..]);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[32..], partitions[i].FirstLba);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[40..], partitions[i].LastLba);
            Encoding.Unicode.GetBytes(partitions[i].Name, entry[56..]);
        }
        uint entriesCrc = Crc32.HashToUInt32(entries);
        ulong backupHeader = diskSectors - 1, backupEntries = backupHeader - (TableSectors - 1);

        var mbr = new byte[Sector];
        MbrPartitionTable.WriteProtective(mbr, diskSectors);
        RandomAccess.Write(disk, mbr, 0);
        RandomAccess.Write(disk, Header(1, backupHeader, 2, diskSectors, diskId, entriesCrc), Sector);
        RandomAccess.Write(disk, entries, 2 * Sector);
        RandomAccess.Write(disk, entries, (long)backupEntries * Sector);
        RandomAccess.Write(disk, Header(backupHeader, 1, backupEntries, diskSectors, diskId, entriesCrc), (long)backupHeader * Sector);
    }

    /// <summary>A header sector (§5.3.2, table 5-5) at <paramref name="myLba"/> whose copy is at <paramref name="alternateLba"/>.</summary>
    private static byte[] Header(ulong myLba, ulong alternateLba, ulong entriesLba, ulong diskSectors, Guid diskId, uint entriesCrc)
    {
        var header = new byte[Sector];
        "EFI PART"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 0x0001_0000);   // revision 1.0
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), HeaderSize);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(24), myLba);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(32), alternateLba);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(40), FirstUsableLba);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(48), LastUsableLba(diskSectors));
        diskId.TryWriteBytes(header.AsSpan(56));
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(72), entriesLba);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(80), EntryCount);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(84), EntrySize);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(88), entriesCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), Crc32.HashToUInt32(header.AsSpan(0, HeaderSize)));
        return header;
    }
}
