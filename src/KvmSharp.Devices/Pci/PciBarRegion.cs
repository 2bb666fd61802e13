using KvmSharp.Devices.Bus;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// The bus registration of one BAR: forwards MMIO or port accesses inside the BAR to the device's
/// handler, and remembers where (if anywhere) it is registered now.
/// </summary>
internal sealed class PciBarRegion(IPciDevice device, int bar) : IBusDevice
{
    /// <summary>The base this region is registered at on its <see cref="IoBus"/>; null while not decoded.</summary>
    public ulong? MappedAt { get; set; }

    public void Read(ulong offset, Span<byte> data) => device.BarRead(bar, offset, data);

    public void Write(ulong offset, ReadOnlySpan<byte> data) => device.BarWrite(bar, offset, data);
}
