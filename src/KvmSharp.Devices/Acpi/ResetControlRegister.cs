using KvmSharp.Devices.Bus;
using KvmSharp.State;

namespace KvmSharp.Devices.Acpi;

/// <summary>
/// The ICH Reset Control Register at port 0xCF9 (Intel ICH9 datasheet §13.7.5 "RST_CNT"), which the FADT
/// names as RESET_REG with RESET_VALUE 0x06 (ACPI 6.5 §4.8.3.6). Writing RST_CPU (bit 2) resets the
/// machine, whatever SYS_RST and FULL_RST say (0x06 and 0x0E both reset); those two read back as written.
/// One byte wide: PCI CONFIG_ADDRESS at 0xCF8 owns dword accesses to 0xCF8-0xCFB, so whoever decodes that
/// range forwards byte accesses at 0xCF9 here.
/// </summary>
public sealed class ResetControlRegister(IMachineControl machine) : IBusDevice, IStateful<ResetControlState>
{
    private const byte SystemReset = 1 << 1;
    private const byte ResetCpu = 1 << 2;
    private const byte FullReset = 1 << 3;

    private int _value;

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset == 0 && data.Length > 0)
            data[0] = (byte)Volatile.Read(ref _value);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset != 0 || data.IsEmpty) return;
        byte value = data[0];
        Volatile.Write(ref _value, value & (SystemReset | FullReset));
        if ((value & ResetCpu) != 0)
            machine.RequestStop(StopRequest.Reset, 0);
    }

    public ResetControlState SaveState() => new() { Value = (byte)Volatile.Read(ref _value) };

    public void RestoreState(ResetControlState state)
    {
        StateCheck.NotNull(state, "reset-control");
        StateCheck.That((state.Value & ~(SystemReset | FullReset)) == 0, "reset-control.Value",
            $"0x{state.Value:x2} sets bits other than SYS_RST and FULL_RST");
        Volatile.Write(ref _value, state.Value);
    }
}
