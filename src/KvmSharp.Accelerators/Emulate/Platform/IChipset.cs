namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The registers the emulated platform owns and handles without leaving the accelerator: on KVM the
/// same ones (PIC, PIT, IOAPIC, LAPIC) live in the kernel, so the machine layer never sees them.
/// </summary>
public interface IPlatformIo
{
    bool TryReadPort(ushort port, int size, out uint value);
    bool TryWritePort(ushort port, int size, uint value);
    bool TryReadMmio(ulong address, int size, out ulong value);
    bool TryWriteMmio(ulong address, int size, ulong value);
}

/// <summary>
/// The VM-wide interrupt controllers and timer of a PC besides the local APICs: IOAPIC, the 8259 pair
/// and the 8254 PIT. <see cref="SetInterruptLine"/> routes a GSI as KVM's default irqchip routing does
/// (GSI 0–15 to both the PICs and the IOAPIC, above 15 to the IOAPIC only). Every call is made under
/// the platform lock.
/// </summary>
public interface IChipset : IPlatformIo, IExternalInterruptController, IEndOfInterruptListener
{
    void SetInterruptLine(uint gsi, bool high);

    /// <summary>Devices with deadlines (the PIT), polled by the platform.</summary>
    IReadOnlyList<ITimedDevice> TimedDevices { get; }
}
