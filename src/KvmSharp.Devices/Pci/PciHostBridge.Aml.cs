using KvmSharp.Boot.Acpi;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// The ACPI description of PCI bus 0 (ACPI 6.5 §6.1.5, PCI Firmware spec 3.2 §4.1): a PCI Express root
/// bridge (PNP0A08, compatible with PNP0A03) with its segment and base bus, the bus range, I/O and memory
/// windows it forwards in _CRS (all I/O ports but 0xCF8-0xCFF, which the bridge itself claims, and the
/// memory windows the bus decodes BARs in), and the _PRT that routes every slot's INTA#–INTD# to a GSI (<see cref="PciInterruptRouting"/>).
/// </summary>
public sealed class PciHostBridgeAml(IReadOnlyList<PciWindow> memoryWindows) : IAcpiDevice
{
    public void WriteAml(AmlBuilder aml) =>
        aml.Device("PCI0", d =>
        {
            d.NameEisaId("_HID", "PNP0A08");
            d.NameEisaId("_CID", "PNP0A03");
            d.Name("_SEG", 0);
            d.Name("_BBN", 0);
            d.Name("_UID", 0);
            d.NameResources("_CRS", r =>
            {
                r.BusNumberRange(0, 0);
                r.Io(PciLegacyConfigAccess.AddressPortBase, 8);
                r.IoRange(0x0000, PciLegacyConfigAccess.AddressPortBase - 1);
                r.IoRange(PciLegacyConfigAccess.AddressPortBase + 8, 0xFFFF);
                foreach (var w in memoryWindows) r.MemoryRange(w.Start, w.Start + w.Length - 1);
            });
            // Rows: address (slot << 16 | 0xFFFF: any function), pin 0-3, source 0 (a GSI, not a link device), GSI.
            var rows = new List<ulong[]>();
            for (int slot = 0; slot < PciBus.Slots; slot++)
                for (int pin = 0; pin < 4; pin++)
                    rows.Add([((ulong)slot << 16) | 0xFFFF, (ulong)pin, 0, PciInterruptRouting.Gsi(slot, pin)]);
            d.NamePackageOfRows("_PRT", rows);
        });
}
