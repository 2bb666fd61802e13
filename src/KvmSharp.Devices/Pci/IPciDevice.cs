namespace KvmSharp.Devices.Pci;

/// <summary>
/// One PCI function as the bus sees it: its configuration space, and the handlers for guest accesses
/// to its BARs once the guest has placed them and enabled decoding. A device raises interrupts through
/// a <see cref="PciIntxPin"/> (legacy INTx) or a <see cref="MsixCapability"/> (message signalled);
/// both are parts the device owns, not bus services. BAR handlers run on vCPU threads and must not
/// allocate; offsets are relative to the BAR's base and already bounded by its size.
/// </summary>
public interface IPciDevice
{
    PciConfigSpace Config { get; }

    /// <summary>
    /// Called after a guest write to config space landed (masks applied), so the device can react to
    /// fields it owns (MSI-X control, INTx disable). <paramref name="offset"/>/<paramref name="length"/>
    /// are the guest's and may lie partly outside the space.
    /// </summary>
    void ConfigWritten(int offset, int length);

    void BarRead(int bar, ulong offset, Span<byte> data);

    void BarWrite(int bar, ulong offset, ReadOnlySpan<byte> data);
}
