namespace KvmSharp.Devices.Pci;

/// <summary>
/// An address range the host bridge forwards to PCI (the PCI hole below 4 GiB, a 64-bit window above
/// RAM, the I/O port window). The platform announces the same ranges in the host bridge's ACPI _CRS,
/// so an OS places BARs inside them; a BAR a guest puts elsewhere (over RAM, say) is not decoded.
/// </summary>
public readonly record struct PciWindow(ulong Start, ulong Length)
{
    public bool Contains(ulong start, ulong length) =>
        length != 0 && start >= Start && length <= Length && start - Start <= Length - length;
}
