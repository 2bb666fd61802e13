using KvmSharp.Boot.Acpi;

namespace KvmSharp.Devices.Legacy;

public sealed partial class Serial16550 : IAcpiDevice
{
    /// <summary>
    /// <c>Device(COMn) { _HID EISAID("PNP0501"), _UID n, _CRS { IO(base, 8), IRQNoFlags(irq) } }</c>:
    /// a 16550A-compatible COM port (PNP0501, Microsoft "Plug and Play ID - PNPID Table"; ACPI 6.5 §6.1.5,
    /// §6.1.12, §6.2.2). Linux's 8250_pnp binds it by this ID.
    /// </summary>
    public void WriteAml(AmlBuilder aml) =>
        aml.Device($"COM{Port.Number}", device => device
            .NameEisaId("_HID", "PNP0501")
            .Name("_UID", (ulong)Port.Number)
            .NameResources("_CRS", resources => resources
                .Io(Port.PortBase, RegisterCount)
                .Irq(Port.Irq)));
}
