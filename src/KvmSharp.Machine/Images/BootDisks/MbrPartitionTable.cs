using System.Buffers.Binary;

namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>
/// A classic MBR's partition table (the IBM PC layout, also in the UEFI spec 2.10 §5.2.1 "Legacy Master Boot Record"):
/// four 16-byte entries at offset 446 and the 0x55 0xAA signature at 510. Entries address by LBA; the CHS fields hold
/// the "beyond 8 GiB" marker (FE FF FF), which every loader that reads the LBA fields accepts.
/// </summary>
public static class MbrPartitionTable
{
    public const int EntriesOffset = 446;
    public const int SignatureOffset = 510;
    public const byte LinuxType = 0x83, GptProtectiveType = 0xEE;

    /// <summary>Writes one bootable partition of <paramref name="sectors"/> sectors from <paramref name="firstSector"/> into <paramref name="mbr"/> (512 bytes).</summary>
    public static void WriteSingle(Span<byte> mbr, uint firstSector, uint sectors, byte type = LinuxType)
    {
        if (mbr.Length != 512) throw new ArgumentException("an MBR is one 512-byte sector", nameof(mbr));
        mbr[EntriesOffset..SignatureOffset].Clear();
        var entry = mbr.Slice(EntriesOffset, 16);
        entry[0] = 0x80;                       // active: the partition a DOS-style MBR would boot
        entry[1] = 0xFE; entry[2] = 0xFF; entry[3] = 0xFF;
        entry[4] = type;
        entry[5] = 0xFE; entry[6] = 0xFF; entry[7] = 0xFF;
        BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], firstSector);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], sectors);
        mbr[SignatureOffset] = 0x55;
        mbr[SignatureOffset + 1] = 0xAA;
    }

    /// <summary>
    /// The protective MBR in front of a GPT (UEFI 2.10 §5.2.3): one entry of type 0xEE from LBA 1 over the whole disk
    /// (or 2^32-1 sectors), not bootable, so that MBR-only tools see the disk as used.
    /// </summary>
    public static void WriteProtective(Span<byte> mbr, ulong diskSectors)
    {
        if (mbr.Length != 512) throw new ArgumentException("an MBR is one 512-byte sector", nameof(mbr));
        mbr.Clear();
        var entry = mbr.Slice(EntriesOffset, 16);
        entry[2] = 0x02;                       // starting CHS 0x000200, as the spec gives it
        entry[4] = GptProtectiveType;
        entry[5] = 0xFF; entry[6] = 0xFF; entry[7] = 0xFF;
        BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], (uint)Math.Min(diskSectors - 1, uint.MaxValue));
        mbr[SignatureOffset] = 0x55;
        mbr[SignatureOffset + 1] = 0xAA;
    }
}
