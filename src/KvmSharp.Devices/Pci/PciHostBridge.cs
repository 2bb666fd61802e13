namespace KvmSharp.Devices.Pci;

/// <summary>
/// Device 0 of bus 0: the host bridge, class 06/00/00 (PCI code and ID assignment spec §D), no BARs, no
/// interrupts. Its IDs are Red Hat's generic PCIe host bridge (1b36:0008, the one QEMU's "gpex" host
/// uses) rather than Intel's Q35 MCH (8086:29c0): the Q35 ID promises chipset registers we do not
/// model (PAM, SMRAM, PCIEXBAR at 0x60), and Linux binds drivers to it (intel-agp matches 0x29C0)
/// that would poke them. No guest driver binds the generic ID, so the guest sees a plain bridge and
/// learns the windows and ECAM from ACPI (_CRS, MCFG), which is what our platform provides.
/// </summary>
public sealed class PciHostBridge : IPciDevice
{
    public const ushort VendorRedHat = 0x1B36;
    public const ushort DeviceGenericPcieHost = 0x0008;
    public const uint ClassHostBridge = 0x06_00_00;

    public PciConfigSpace Config { get; } = new(VendorRedHat, DeviceGenericPcieHost, ClassHostBridge);

    public void ConfigWritten(int offset, int length) { }

    // No BARs are defined, so the bus never maps any; these cannot be reached.
    public void BarRead(int bar, ulong offset, Span<byte> data) => data.Fill(0xFF);

    public void BarWrite(int bar, ulong offset, ReadOnlySpan<byte> data) { }
}
