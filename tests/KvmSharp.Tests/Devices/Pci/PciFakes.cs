using System.Buffers.Binary;
using KvmSharp.Devices.Pci;

namespace KvmSharp.Tests.Devices.Pci;

/// <summary>
/// A PCI function with the BAR shapes the tests need: BAR0 32-bit memory 4 KiB (MSI-X table at 0,
/// PBA at 0x800), BAR1 I/O 32 bytes, BAR2/3 64-bit prefetchable memory 16 KiB. BAR accesses outside
/// MSI-X are recorded and read back as the low byte of the offset.
/// </summary>
internal sealed class FakePciFunction : IPciDevice
{
    public const ushort Vendor = 0x1AF4, Device = 0x1041;
    public const uint Class = 0x02_00_00;

    public FakePciFunction(IMsiSink? sink = null, int vectors = 3)
    {
        Config.DefineBar(0, PciBarKind.Memory32, 0x1000);
        Config.DefineBar(1, PciBarKind.Io, 0x20);
        Config.DefineBar(2, PciBarKind.Memory64, 0x4000, prefetchable: true);
        Msix = new MsixCapability(Config, sink ?? new RecordingMsiSink(), vectors, 0, 0, 0, 0x800);
    }

    public PciConfigSpace Config { get; } = new(Vendor, Device, Class);
    public MsixCapability Msix { get; }
    public List<(int Bar, ulong Offset, byte[] Data)> BarWrites { get; } = [];
    public int ConfigWrites { get; private set; }

    public void ConfigWritten(int offset, int length)
    {
        ConfigWrites++;
        Msix.ConfigWritten();
    }

    public void BarRead(int bar, ulong offset, Span<byte> data)
    {
        if (!Msix.TryRead(bar, offset, data))
            for (int i = 0; i < data.Length; i++) data[i] = (byte)(offset + (ulong)i);
    }

    public void BarWrite(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (!Msix.TryWrite(bar, offset, data)) BarWrites.Add((bar, offset, data.ToArray()));
    }
}

internal sealed class RecordingMsiSink : IMsiSink
{
    public List<(ulong Address, uint Data)> Messages { get; } = [];
    public void Deliver(ulong address, uint data) => Messages.Add((address, data));
}

/// <summary>Typed configuration accesses, the way a guest's pci_read_config_* reach a function.</summary>
internal static class ConfigIo
{
    public static uint Read32(this PciConfigSpace c, int offset) => c.ReadUInt32(offset);

    public static ushort Read16(this PciConfigSpace c, int offset)
    {
        Span<byte> b = stackalloc byte[2];
        c.Read(offset, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    public static byte Read8(this PciConfigSpace c, int offset)
    {
        Span<byte> b = stackalloc byte[1];
        c.Read(offset, b);
        return b[0];
    }

    public static void Write32(this PciConfigSpace c, int offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        c.Write(offset, b);
    }

    public static void Write16(this PciConfigSpace c, int offset, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        c.Write(offset, b);
    }

    /// <summary>
    /// The capability walk of Linux's __pci_find_next_cap_ttl (drivers/pci/pci.c): needs status bit 4,
    /// starts at 0x34, masks the low two bits of each pointer, stops below 0x40 and after 48 hops.
    /// </summary>
    public static List<(int Offset, byte Id)> WalkCapabilities(this PciConfigSpace c)
    {
        var found = new List<(int, byte)>();
        if ((c.Read16(PciConfigSpace.StatusOffset) & PciConfigSpace.StatusCapabilitiesList) == 0) return found;
        int pos = c.Read8(PciConfigSpace.CapabilitiesPointerOffset);
        for (int ttl = 48; ttl > 0; ttl--)
        {
            pos &= ~3;
            if (pos < 0x40) break;
            ushort ent = c.Read16(pos);
            byte id = (byte)ent;
            if (id == 0xFF) break;
            found.Add((pos, id));
            pos = ent >> 8;
        }
        return found;
    }
}
