using System.Buffers.Binary;
using KvmSharp.Devices.Bus;
using KvmSharp.State;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// Configuration mechanism #1 (PCI Local Bus spec 3.0 §3.2.2.3.2): CONFIG_ADDRESS at port 0xCF8 (dword
/// accesses only) selects bus/device/function/register with bit 31 as the enable bit; CONFIG_DATA at
/// 0xCFC–0xCFF reaches that dword of the selected function, with byte and word accesses at the offset
/// inside the dword. Two port devices: <see cref="AddressPort"/> (0xCF8, 4 ports) and <see cref="DataPort"/>
/// (0xCFC, 4 ports). 0xCF8–0xCFB overlaps the PC's reset control register at 0xCF9, so the address port
/// decodes the whole range as a chipset does: a dword access at 0xCF8 is CONFIG_ADDRESS, a byte access at
/// 0xCF9 goes to the reset control register given to the constructor (ICH9 datasheet §13.7.5).
/// Only the first 256 bytes are reachable this way; the extended space needs ECAM.
/// </summary>
public sealed class PciLegacyConfigAccess : IStateful<PciConfigAddressState>
{
    public const ushort AddressPortBase = 0xCF8;
    public const ushort DataPortBase = 0xCFC;
    private const uint EnableBit = 0x8000_0000;
    // Bits 30:24 are reserved and 1:0 are hard-wired to 0 (the register is dword aligned).
    private const uint AddressWritable = EnableBit | 0x00FF_FFFC;

    private const ulong ResetControlOffset = 1; // 0xCF9 - 0xCF8

    private readonly PciBus _bus;
    private readonly IBusDevice? _resetControl;
    private uint _address;

    /// <param name="resetControl">The register at 0xCF9 that byte accesses there reach (offset 0 of it); null: none.</param>
    public PciLegacyConfigAccess(PciBus bus, IBusDevice? resetControl = null)
    {
        _bus = bus;
        _resetControl = resetControl;
        AddressPort = new AddressRegister(this);
        DataPort = new DataRegister(this);
    }

    public IBusDevice AddressPort { get; }
    public IBusDevice DataPort { get; }

    public PciConfigAddressState SaveState() => new() { Address = Volatile.Read(ref _address) };

    public void RestoreState(PciConfigAddressState state)
    {
        StateCheck.NotNull(state, "pci-config-address");
        StateCheck.That((state.Address & ~AddressWritable) == 0, "pci-config-address.Address",
            $"0x{state.Address:x8} sets reserved or hard-wired bits");
        Volatile.Write(ref _address, state.Address);
    }

    private sealed class AddressRegister(PciLegacyConfigAccess owner) : IBusDevice
    {
        // Byte and word accesses to 0xCF8–0xCFB are not configuration accesses (§3.2.2.3.2): they read
        // all ones and are dropped. Linux's type 1 probe relies on a byte write to 0xCFB not changing CONFIG_ADDRESS.
        public void Read(ulong offset, Span<byte> data)
        {
            if (offset == 0 && data.Length == 4) BinaryPrimitives.WriteUInt32LittleEndian(data, Volatile.Read(ref owner._address));
            else if (IsResetControl(offset, data.Length)) owner._resetControl!.Read(0, data);
            else data.Fill(0xFF);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset == 0 && data.Length == 4)
                Volatile.Write(ref owner._address, BinaryPrimitives.ReadUInt32LittleEndian(data) & AddressWritable);
            else if (IsResetControl(offset, data.Length))
                owner._resetControl!.Write(0, data);
        }

        private bool IsResetControl(ulong offset, int length) => offset == ResetControlOffset && length == 1 && owner._resetControl is not null;
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
