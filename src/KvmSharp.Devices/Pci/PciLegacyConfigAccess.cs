using System.Buffers.Binary;
using KvmSharp.Devices.Bus;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// Configuration mechanism #1 (PCI Local Bus spec 3.0 §3.2.2.3.2): CONFIG_ADDRESS at port 0xCF8 (dword
/// accesses only) selects bus/device/function/register with bit 31 as the enable bit; CONFIG_DATA at
/// 0xCFC–0xCFF reaches that dword of the selected function, with byte and word accesses at the offset
/// inside the dword. Two port devices: <see cref="AddressPort"/> (0xCF8, 4 ports) and <see cref="DataPort"/>
/// (0xCFC, 4 ports). 0xCF8–0xCFB overlaps the reset control register at 0xCF9, so wiring this into a
/// machine needs one decoder for that range (a dword access is CONFIG_ADDRESS, a byte at 0xCF9 is reset).
/// Only the first 256 bytes are reachable this way; the extended space needs ECAM.
/// </summary>
public sealed class PciLegacyConfigAccess
{
    public const ushort AddressPortBase = 0xCF8;
    public const ushort DataPortBase = 0xCFC;
    private const uint EnableBit = 0x8000_0000;
    // Bits 30:24 are reserved and 1:0 are hard-wired to 0 (the register is dword aligned).
    private const uint AddressWritable = EnableBit | 0x00FF_FFFC;

    private readonly PciBus _bus;
    private uint _address;

    public PciLegacyConfigAccess(PciBus bus)
    {
        _bus = bus;
        AddressPort = new AddressRegister(this);
        DataPort = new DataRegister(this);
    }

    public IBusDevice AddressPort { get; }
    public IBusDevice DataPort { get; }

    private sealed class AddressRegister(PciLegacyConfigAccess owner) : IBusDevice
    {
        // Byte and word accesses to 0xCF8–0xCFB are not configuration accesses (§3.2.2.3.2): they read
        // all ones and are dropped. Linux's type 1 probe relies on a byte write to 0xCFB not changing CONFIG_ADDRESS.
        public void Read(ulong offset, Span<byte> data)
        {
            if (offset == 0 && data.Length == 4) BinaryPrimitives.WriteUInt32LittleEndian(data, Volatile.Read(ref owner._address));
            else data.Fill(0xFF);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset == 0 && data.Length == 4)
                Volatile.Write(ref owner._address, BinaryPrimitives.ReadUInt32LittleEndian(data) & AddressWritable);
        }
    }

    private sealed class DataRegister(PciLegacyConfigAccess owner) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            if (!owner.Select(offset, data.Length, out int bus, out int slot, out int fn, out int reg)) { data.Fill(0xFF); return; }
            owner._bus.ReadConfig(bus, slot, fn, reg, data);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (owner.Select(offset, data.Length, out int bus, out int slot, out int fn, out int reg))
                owner._bus.WriteConfig(bus, slot, fn, reg, data);
        }
    }

    private bool Select(ulong offset, int length, out int bus, out int slot, out int function, out int register)
    {
        uint a = Volatile.Read(ref _address);
        bus = (int)(a >> 16) & 0xFF;
        slot = (int)(a >> 11) & 0x1F;
        function = (int)(a >> 8) & 0x7;
        register = (int)(a & 0xFC) + (int)offset;
        // The IoBus hands us only accesses inside 0xCFC–0xCFF; check anyway, the offset is ours to trust last.
        return (a & EnableBit) != 0 && offset < 4 && length <= 4 - (int)offset;
    }
}
