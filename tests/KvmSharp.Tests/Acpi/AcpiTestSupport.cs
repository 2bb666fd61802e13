using System.Buffers.Binary;
using System.Text;
using KvmSharp.Boot.Acpi;
using KvmSharp.Devices;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Acpi;

/// <summary>A 16550 as a device would describe itself: PNP0501 with an I/O range and an ISA IRQ.</summary>
internal sealed class SampleSerialDevice(string name, ushort port, byte irq) : IAcpiDevice
{
    public void WriteAml(AmlBuilder aml) =>
        aml.Device(name, d =>
        {
            d.NameEisaId("_HID", "PNP0501");
            d.Name("_UID", irq);
            d.Method("_STA", 0, serialized: false, m => m.Return(0x0F));
            d.NameResources("_CRS", r => r.Io(port, 8).Irq(irq));
        });
}

internal sealed class RecordingMachineControl : IMachineControl
{
    public List<(StopRequest Request, int ExitStatus)> Requests { get; } = [];
    public void RequestStop(StopRequest request, int exitStatus) => Requests.Add((request, exitStatus));
}

internal sealed class RecordingInterruptLine : IInterruptLine
{
    public List<bool> Levels { get; } = [];
    public void SetLevel(bool high) => Levels.Add(high);
}

/// <summary>A clock that moves only when told, at one tick per nanosecond.</summary>
internal sealed class ManualClock : TimeProvider
{
    public long Timestamp { get; set; } = 1_000_000;
    public override long GetTimestamp() => Timestamp;
    public override long TimestampFrequency => 1_000_000_000;
}

/// <summary>Reads the tables back out of guest memory the way an OS does: RSDP → XSDT → tables.</summary>
internal static class AcpiTableReader
{
    public static byte[] ReadRsdp(GuestMemory memory, GuestAddress rsdp)
    {
        var bytes = new byte[RootTables.RsdpLength];
        memory.Read(rsdp, bytes);
        return bytes;
    }

    public static byte[] ReadTable(GuestMemory memory, ulong address)
    {
        uint length = memory.Read<uint>(new GuestAddress(address + 4));
        var bytes = new byte[length];
        memory.Read(new GuestAddress(address), bytes);
        return bytes;
    }

    public static string Signature(byte[] table) => Encoding.ASCII.GetString(table, 0, 4);

    /// <summary>Every table the XSDT lists, plus the XSDT itself, the DSDT and the FACS, by signature.</summary>
    public static Dictionary<string, byte[]> ReadAll(GuestMemory memory, GuestAddress rsdp)
    {
        byte[] root = ReadRsdp(memory, rsdp);
        byte[] xsdt = ReadTable(memory, BinaryPrimitives.ReadUInt64LittleEndian(root.AsSpan(24)));
        byte[] rsdt = ReadTable(memory, BinaryPrimitives.ReadUInt32LittleEndian(root.AsSpan(16)));
        var tables = new Dictionary<string, byte[]> { ["XSDT"] = xsdt, ["RSDT"] = rsdt };
        for (int at = AcpiTableHeader.Length; at < xsdt.Length; at += 8)
        {
            byte[] table = ReadTable(memory, BinaryPrimitives.ReadUInt64LittleEndian(xsdt.AsSpan(at)));
            tables[Signature(table)] = table;
        }
        byte[] fadt = tables["FACP"];
        tables["DSDT"] = ReadTable(memory, BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(Fadt.Offsets.XDsdt)));
        tables["FACS"] = ReadTable(memory, BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(Fadt.Offsets.XFirmwareCtrl)));
        return tables;
    }

    public static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes) sum += b;
        return sum;
    }
}
