using KvmSharp.Devices.Bus;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// The enhanced configuration access mechanism (PCI Express base spec §7.2.2): a memory window of 1 MiB
/// per bus, in which address bits 27:20 pick the bus, 19:15 the device, 14:12 the function and 11:0 the
/// register of the 4 KiB configuration space. The platform registers it at the base its ACPI MCFG table
/// announces, with length <see cref="Length"/>. Any access size the bus hands over is passed on;
/// bytes past the end of the function's space read all ones.
/// </summary>
public sealed class PciEcam(PciBus bus, int busCount = 1) : IBusDevice
{
    public ulong Length { get; } = busCount is >= 1 and <= 256
        ? (ulong)busCount << 20
        : throw new ArgumentOutOfRangeException(nameof(busCount));

    public void Read(ulong offset, Span<byte> data)
    {
        if (offset >= Length) { data.Fill(0xFF); return; }
        Decode(offset, out int b, out int slot, out int fn, out int reg);
        bus.ReadConfig(b, slot, fn, reg, data);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset >= Length) return;
        Decode(offset, out int b, out int slot, out int fn, out int reg);
        bus.WriteConfig(b, slot, fn, reg, data);
    }

    public static void Decode(ulong offset, out int bus, out int slot, out int function, out int register)
    {
        bus = (int)(offset >> 20) & 0xFF;
        slot = (int)(offset >> 15) & 0x1F;
        function = (int)(offset >> 12) & 0x7;
        register = (int)(offset & 0xFFF);
    }
}
