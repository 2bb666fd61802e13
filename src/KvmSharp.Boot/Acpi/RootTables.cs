using System.Buffers.Binary;
using System.Text;
using KvmSharp.Memory;

namespace KvmSharp.Boot.Acpi;

/// <summary>The tables that lead the OS to all others: RSDP → XSDT (and RSDT for 32-bit-only readers).</summary>
public static class RootTables
{
    public const int RsdpLength = 36;
    public const byte RsdpRevision = 2;

    /// <summary>Extended System Description Table (ACPI 6.5 §5.2.8): 64-bit addresses of the other tables.</summary>
    public static byte[] Xsdt(IReadOnlyList<GuestAddress> tables)
    {
        var table = AcpiTableHeader.Create("XSDT", 1, AcpiTableHeader.Length + 8 * tables.Count);
        for (int i = 0; i < tables.Count; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(AcpiTableHeader.Length + 8 * i), tables[i].Value);
        AcpiTableHeader.Seal(table);
        return table;
    }

    /// <summary>
    /// Root System Description Table (ACPI 6.5 §5.2.7): the same list with 32-bit addresses, for readers
    /// that predate ACPI 2.0 (some multiboot kernels). Every table lives below 1 MiB, so they fit.
    /// </summary>
    public static byte[] Rsdt(IReadOnlyList<GuestAddress> tables)
    {
        var table = AcpiTableHeader.Create("RSDT", 1, AcpiTableHeader.Length + 4 * tables.Count);
        for (int i = 0; i < tables.Count; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(AcpiTableHeader.Length + 4 * i), checked((uint)tables[i].Value));
        AcpiTableHeader.Seal(table);
        return table;
    }

    /// <summary>
    /// Root System Description Pointer, revision 2 (ACPI 6.5 §5.2.5.3, Table 5.3): "RSD PTR ", a checksum
    /// over the first 20 bytes (the ACPI 1.0 part), OEMID, revision, RSDT address, length, XSDT address, and
    /// an extended checksum over all 36 bytes.
    /// </summary>
    public static byte[] Rsdp(GuestAddress rsdt, GuestAddress xsdt)
    {
        var rsdp = new byte[RsdpLength];
        var span = rsdp.AsSpan();
        Encoding.ASCII.GetBytes("RSD PTR ", span[..8]);
        Encoding.ASCII.GetBytes(AcpiTableHeader.OemId, span.Slice(9, 6));
        span[15] = RsdpRevision;
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], checked((uint)rsdt.Value));
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], RsdpLength);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], xsdt.Value);
        span[8] = AcpiTableHeader.Checksum(span[..20]);
        span[32] = AcpiTableHeader.Checksum(span);
        return rsdp;
    }
}
