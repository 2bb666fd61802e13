using System.Buffers.Binary;

namespace KvmSharp.Boot.Acpi;

/// <summary>Multiple APIC Description Table (ACPI 6.5 §5.2.12).</summary>
public static class Madt
{
    public const byte Revision = 5;
    /// <summary>Flags bit 0, PCAT_COMPAT: the machine also has dual 8259s, which the OS must mask (Table 5.20).</summary>
    public const uint PcatCompat = 1;

    // Interrupt Controller Structure types (Table 5.21) and lengths.
    public const byte ProcessorLocalApic = 0;
    public const byte IoApic = 1;
    public const byte InterruptSourceOverrideType = 2;
    public const byte LocalApicNmi = 4;
    private const int ProcessorLocalApicLength = 8;
    private const int IoApicLength = 12;
    private const int InterruptSourceOverrideLength = 10;
    private const int LocalApicNmiLength = 6;

    public static byte[] Build(AcpiPlatform platform)
    {
        int length = AcpiTableHeader.Length + 8
            + platform.VcpuCount * ProcessorLocalApicLength
            + IoApicLength
            + platform.InterruptOverrides.Count * InterruptSourceOverrideLength
            + LocalApicNmiLength;
        var table = AcpiTableHeader.Create("APIC", Revision, length);
        var span = table.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span[36..], platform.LapicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(span[40..], PcatCompat);
        int at = 44;

        // §5.2.12.2: ACPI Processor UID, APIC ID, flags bit 0 Enabled.
        for (int cpu = 0; cpu < platform.VcpuCount; cpu++)
        {
            span[at] = ProcessorLocalApic;
            span[at + 1] = ProcessorLocalApicLength;
            span[at + 2] = (byte)cpu;
            span[at + 3] = (byte)cpu;
            BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 4)..], 1);
            at += ProcessorLocalApicLength;
        }

        // §5.2.12.3: I/O APIC ID, reserved, address, GSI base.
        span[at] = IoApic;
        span[at + 1] = IoApicLength;
        span[at + 2] = platform.IoApicId;
        BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 4)..], platform.IoApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 8)..], platform.IoApicGsiBase);
        at += IoApicLength;

        // §5.2.12.5: bus 0 (ISA), source IRQ, GSI, MPS INTI flags.
        foreach (var o in platform.InterruptOverrides)
        {
            span[at] = InterruptSourceOverrideType;
            span[at + 1] = InterruptSourceOverrideLength;
            span[at + 2] = 0;
            span[at + 3] = o.IsaIrq;
            BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 4)..], o.Gsi);
            BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 8)..], o.Flags);
            at += InterruptSourceOverrideLength;
        }

        // §5.2.12.7: every processor (UID 0xFF) has NMI on LINT1, as the PC wires it; flags 0 = conforming.
        span[at] = LocalApicNmi;
        span[at + 1] = LocalApicNmiLength;
        span[at + 2] = 0xFF;
        BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 3)..], 0);
        span[at + 5] = 1;

        AcpiTableHeader.Seal(table);
        return table;
    }
}
