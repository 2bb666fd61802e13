using System.Buffers.Binary;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// The PCI Express memory-mapped configuration table, "MCFG" (PCI Firmware spec 3.2 §4.1.2): after the
/// header, 8 reserved bytes and one 16-byte allocation per ECAM region (base address u64, PCI segment
/// u16, first bus u8, last bus u8, 4 reserved). It tells the OS where ECAM (<c>PciEcam</c>) lives.
/// </summary>
public static class Mcfg
{
    public static byte[] Build(ulong ecamBase, byte firstBus, byte lastBus)
    {
        const int allocation = AcpiTableHeader.Length + 8;
        var table = AcpiTableHeader.Create("MCFG", 1, allocation + 16);
        var entry = table.AsSpan(allocation);
        BinaryPrimitives.WriteUInt64LittleEndian(entry, ecamBase);
        BinaryPrimitives.WriteUInt16LittleEndian(entry[8..], 0);
        entry[10] = firstBus;
        entry[11] = lastBus;
        AcpiTableHeader.Seal(table);
        return table;
    }
}
