namespace KvmSharp.Devices.Pci;

/// <summary>
/// Device 0 of bus 0: the host bridge, class 06/00/00 (PCI code and ID assignment spec §D), no BARs, no
/// interrupts. Its IDs are Red Hat's generic PCIe host bridge (1b36:0008, the one QEMU's "gpex" host
/// uses) rather than Intel's Q35 MCH (8086:29c0): the Q35 ID promises chipset registers we do not
/// model (PAM, SMRAM, PCIEXBAR at 0x60), and Linux binds drivers to it (intel-agp matches 0x29C0)
/// that would poke them. No guest driver binds the generic ID, so the guest sees a plain bridge and
/// learns the windows and ECAM from ACPI (_CRS, MCFG), which is what our platform provides.
/// <para>UEFI machines say i440FX instead (<see cref="I440Fx"/>): OVMF knows only QEMU's two chipsets by their host
/// bridge's device ID (its PlatformInitLib, AcpiTimerLib and BDS switch on it) and stops in a dead loop at the end
/// of DXE on any other. Of the two, the i440FX asks the least of us: configuration through 0xCF8/0xCFC (no PCIEXBAR to
/// relocate the ECAM, as Q35's OVMF path programs), and its one register OVMF needs, the PIIX4 PM base, comes with
/// an enable bit that tells OVMF it is set already (see <see cref="Piix4PowerManagement"/>). Its PAM registers are
/// not modelled: OVMF does not use them, and SeaBIOS machines keep the generic bridge.</para>
/// </summary>
public sealed class PciHostBridge : IPciDevice
{
    public const ushort VendorRedHat = 0x1B36, VendorIntel = 0x8086;
    public const ushort DeviceGenericPcieHost = 0x0008, Device82441Fx = 0x1237;
    public const uint ClassHostBridge = 0x06_00_00;

    private PciHostBridge(ushort vendor, ushort device) => Config = new PciConfigSpace(vendor, device, ClassHostBridge);

    /// <summary>Red Hat's generic host bridge: what direct-boot and SeaBIOS machines show.</summary>
    public static PciHostBridge Generic() => new(VendorRedHat, DeviceGenericPcieHost);

    /// <summary>Intel's 82441FX (the i440FX PMC): what UEFI machines show, for OVMF.</summary>
    public static PciHostBridge I440Fx() => new(VendorIntel, Device82441Fx);

    public PciConfigSpace Config { get; }

    public void ConfigWritten(int offset, int length) { }

    // No BARs are defined, so the bus never maps any; these cannot be reached.
    public void BarRead(int bar, ulong offset, Span<byte> data) => data.Fill(0xFF);

    public void BarWrite(int bar, ulong offset, ReadOnlySpan<byte> data) { }
}
