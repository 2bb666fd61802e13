using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The PC chipset that KVM keeps in the kernel (KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2), in user space
/// for the software CPU: the IOAPIC at <see cref="MemoryMap.IoApicStart"/>, the 8259 pair and, unless
/// the machine runs without it (<c>--no-pit</c>), the 8254 PIT with port 0x61.
/// </summary>
public sealed class LegacyChipset : IChipset, IStateful<LegacyChipsetState>
{
    /// <summary>The GSI counter 0's OUT drives (ISA IRQ 0).</summary>
    public const uint TimerGsi = 0;

    /// <summary>The IOAPIC pin ISA IRQ 0 arrives on: the MADT's interrupt source override IRQ0 → GSI2 (AcpiPlatform).</summary>
    public const int TimerIoApicPin = 2;

    private const uint IsaIrqCount = 16, CascadeIrq = 2;

    private readonly IoApic _ioApic;
    private readonly Pic8259Pair _pics = new();
    private readonly Pit8254? _pit;

    public LegacyChipset(IApicBus apics, IGuestClock clock, bool withPit)
    {
        _ioApic = new IoApic(apics);
        if (withPit)
            _pit = new Pit8254(clock, high => SetInterruptLine(TimerGsi, high));
        TimedDevices = _pit is null ? [] : [_pit];
    }

    public IReadOnlyList<ITimedDevice> TimedDevices { get; }

    public bool InterruptRequested => _pics.InterruptRequested;

    public byte Acknowledge() => _pics.Acknowledge();

    public void EndOfInterrupt(byte vector) => _ioApic.EndOfInterrupt(vector);

    /// <summary>
    /// Routes a GSI as KVM's irqchip routing does with QEMU's PC table: GSI 0–15 to the 8259 input of the
    /// same number and to the IOAPIC, GSI 0 on IOAPIC pin 2 (the MADT override); GSI 2 is the cascade and
    /// reaches neither; GSI 16–23 to the IOAPIC only. Anything else is a device bug and goes nowhere.
    /// </summary>
    public void SetInterruptLine(uint gsi, bool high)
    {
        if (gsi < IsaIrqCount)
        {
            if (gsi == CascadeIrq)
                return;
            _pics.SetIrq((int)gsi, high);
            _ioApic.SetPin(gsi == TimerGsi ? TimerIoApicPin : (int)gsi, high);
        }
        else if (gsi < IoApic.PinCount)
        {
            _ioApic.SetPin((int)gsi, high);
        }
    }

    public bool TryReadPort(ushort port, int size, out uint value)
    {
        if (Pic8259Pair.Decodes(port))
        {
            value = _pics.ReadPort(port, size);
            return true;
        }
        if (_pit is not null && Pit8254.Decodes(port))
        {
            value = _pit.ReadPort(port, size);
            return true;
        }
        value = 0;
        return false;
    }

    public bool TryWritePort(ushort port, int size, uint value)
    {
        if (Pic8259Pair.Decodes(port))
        {
            _pics.WritePort(port, size, value);
            return true;
        }
        if (_pit is not null && Pit8254.Decodes(port))
        {
            _pit.WritePort(port, size, value);
            return true;
        }
        return false;
    }

    public bool TryReadMmio(ulong address, int size, out ulong value)
    {
        if (!IsIoApic(address))
        {
            value = 0;
            return false;
        }
        value = _ioApic.ReadMmio(address - MemoryMap.IoApicStart, size);
        return true;
    }

    public bool TryWriteMmio(ulong address, int size, ulong value)
    {
        if (!IsIoApic(address))
            return false;
        _ioApic.WriteMmio(address - MemoryMap.IoApicStart, size, value);
        return true;
    }

    public LegacyChipsetState SaveState() => new() { IoApic = _ioApic.SaveState(), Pics = _pics.SaveState(), Pit = _pit?.SaveState() };

    /// <summary>Loads the three parts; each checks its own state before changing anything, the PIT's presence first.</summary>
    public void RestoreState(LegacyChipsetState state)
    {
        StateCheck.NotNull(state, "Chipset");
        StateCheck.That((state.Pit is null) == (_pit is null), "Chipset.Pit",
            _pit is null ? "is saved, but this VM has no PIT (--no-pit)" : "is missing, but this VM has a PIT");
        // Check all three before loading any: the IOAPIC and the PICs check inside their RestoreState, so take a
        // copy of what is here now and put it back if a later part refuses.
        var before = SaveState();
        try
        {
            _ioApic.RestoreState(state.IoApic);
            _pics.RestoreState(state.Pics);
            if (state.Pit is not null) _pit!.RestoreState(state.Pit);
        }
        catch (StateException)
        {
            _ioApic.RestoreState(before.IoApic);
            _pics.RestoreState(before.Pics);
            if (before.Pit is not null) _pit!.RestoreState(before.Pit);
            throw;
        }
    }

    private static bool IsIoApic(ulong address) => address - MemoryMap.IoApicStart < IoApic.MmioSize;
}
