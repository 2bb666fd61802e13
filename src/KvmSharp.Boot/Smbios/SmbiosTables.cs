using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Boot.Smbios;

/// <summary>What the SMBIOS tables say about a machine.</summary>
/// <param name="Uuid">The system's UUID (type 1), as libvirt's domain uuid; null: none given (all zeros, "not present").</param>
/// <param name="RamRanges">Guest RAM as laid out in guest-physical memory (each becomes a type 19).</param>
public sealed record SmbiosMachine(Guid? Uuid, int CpuCount, ulong RamSize, IReadOnlyList<(ulong Start, ulong Size)> RamRanges);

/// <summary>
/// SMBIOS 2.8 tables (DMTF DSP0134) as QEMU hands them to firmware over fw_cfg: "etc/smbios/smbios-tables" (the
/// structures: 1 system with the machine's UUID, 3 chassis, 4 one per CPU, 16 memory array, 17 one memory device,
/// 19 one per RAM range, 32 boot status, 127 end) and "etc/smbios/smbios-anchor" (the 31-byte 32-bit entry point;
/// the firmware writes the tables' address into it and fixes its checksums). Type 0 describes the BIOS itself, so
/// it is the firmware's to add: SeaBIOS adds its own when the tables lack one.
/// </summary>
public static class SmbiosTables
{
    public const string TablesFile = "etc/smbios/smbios-tables";
    public const string AnchorFile = "etc/smbios/smbios-anchor";
    public const string Manufacturer = "KvmSharp";
    public const string Product = "KvmSharp Virtual Machine";

    public static (byte[] Tables, byte[] Anchor) Build(SmbiosMachine machine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(machine.CpuCount, 1);
        var structures = new List<byte[]>();
        ushort handle = 0x100;
        ushort Next() => handle++;

        // Type 1, System Information (§7.2): 27 bytes in 2.4+.
        structures.Add(new SmbiosStructure(1, Next()).String(Manufacturer).String(Product).String("1").String(null)
            .Bytes(UuidBytes(machine.Uuid)).U8(0x06 /* wake-up: power switch */).String(null).String("Virtual Machine").ToArray());

        // Type 3, System Enclosure (§7.4): "other", states safe, no contained elements, SKU (2.7).
        structures.Add(new SmbiosStructure(3, Next()).String(Manufacturer).U8(0x01).String(null).String(null).String(null)
            .U8(0x03).U8(0x03).U8(0x03).U8(0x02).U32(0).U8(0).U8(0).U8(0).U8(0).String(null).ToArray());

        // Type 4, Processor Information (§7.5), one per vCPU socket: 42 bytes in 2.6+.
        for (int cpu = 0; cpu < machine.CpuCount; cpu++)
        {
            // The processor ID (CPUID leaf 1's EAX and EDX) is left 0: the OS asks the CPU itself.
            var id = new byte[8];
            structures.Add(new SmbiosStructure(4, Next()).String($"CPU {cpu}").U8(0x03 /* central */).U8(0xFE /* see family 2 */)
                .String(Manufacturer).Bytes(id).String(null).U8(0).U16(0).U16(2000).U16(2000).U8(0x41 /* populated, enabled */)
                .U8(0x01).U16(0xFFFF).U16(0xFFFF).U16(0xFFFF).String(null).String(null).String(null)
                .U8(1).U8(1).U8(1).U16(0x0004 /* 64-bit capable */).U16(0x01 /* other */).ToArray());
        }

        // Type 16, Physical Memory Array (§7.17) and type 17, Memory Device (§7.18, 40 bytes in 2.8): all RAM in one.
        ushort array = Next();
        ulong kib = machine.RamSize / 1024;
        structures.Add(new SmbiosStructure(16, array).U8(0x01).U8(0x03).U8(0x06)
            .U32(kib >= 0x8000_0000 ? 0x8000_0000 : (uint)kib).U16(0xFFFE).U16(1).U64(kib >= 0x8000_0000 ? machine.RamSize : 0).ToArray());
        ulong mib = machine.RamSize >> 20;
        structures.Add(new SmbiosStructure(17, Next()).U16(array).U16(0xFFFE).U16(64).U16(64)
            .U16(mib >= 0x7FFF ? (ushort)0x7FFF : (ushort)mib).U8(0x09 /* DIMM */).U8(0).String("DIMM 0").String(null)
            .U8(0x07 /* RAM */).U16(0x0002 /* unknown */).U16(0).String(Manufacturer).String(null).String(null).String(null)
            .U8(0).U32(mib >= 0x7FFF ? (uint)mib : 0).U16(0).U16(0).U16(0).U16(0).ToArray());

        // Type 19, Memory Array Mapped Address (§7.20), one per RAM range; extended fields past 4 TiB of KiB.
        foreach (var (start, size) in machine.RamRanges)
        {
            ulong first = start / 1024, last = (start + size) / 1024 - 1;
            bool extended = last >= 0xFFFF_FFFF;
            structures.Add(new SmbiosStructure(19, Next()).U32(extended ? 0xFFFF_FFFF : (uint)first).U32(extended ? 0xFFFF_FFFF : (uint)last)
                .U16(array).U8(1).U64(extended ? start : 0).U64(extended ? start + size - 1 : 0).ToArray());
        }

        // Type 32, System Boot Information (§7.33): no errors.
        structures.Add(new SmbiosStructure(32, Next()).Bytes(new byte[6]).U8(0).ToArray());
        structures.Add(new SmbiosStructure(127, Next()).ToArray());

        byte[] tables = [.. structures.SelectMany(s => s)];
        return (tables, Anchor(tables.Length, structures.Count, structures.Max(s => s.Length)));
    }

    /// <summary>The SMBIOS 2.1 (32-bit) entry point structure (§5.2.1), 31 bytes, its table address left 0 for the firmware.</summary>
    private static byte[] Anchor(int tablesLength, int count, int largest)
    {
        var anchor = new byte[31];
        Encoding.ASCII.GetBytes("_SM_", anchor);
        anchor[5] = 31;
        anchor[6] = 2;
        anchor[7] = 8;
        BinaryPrimitives.WriteUInt16LittleEndian(anchor.AsSpan(8), checked((ushort)largest));
        Encoding.ASCII.GetBytes("_DMI_", anchor.AsSpan(16));
        BinaryPrimitives.WriteUInt16LittleEndian(anchor.AsSpan(22), checked((ushort)tablesLength));
        BinaryPrimitives.WriteUInt16LittleEndian(anchor.AsSpan(28), checked((ushort)count));
        anchor[30] = 0x28;
        anchor[21] = Checksum(anchor.AsSpan(16, 15));
        anchor[4] = Checksum(anchor.AsSpan(0, 31));
        return anchor;
    }

    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes) sum += b;
        return (byte)-sum;
    }

    /// <summary>The UUID in SMBIOS 2.6+ order (§7.2.1): the first three fields little-endian, as .NET's Guid bytes are.</summary>
    private static byte[] UuidBytes(Guid? uuid) => uuid?.ToByteArray() ?? new byte[16];
}
