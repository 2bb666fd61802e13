using KvmSharp.Boot.Acpi;

namespace KvmSharp.Devices.Legacy;

public sealed partial class I8042Controller : IAcpiDevice
{
    /// <summary>
    /// The two PS/2 devices as PC firmware describes them (ACPI 6.5 §6.1.5, §6.2.2): the keyboard
    /// (PNP0303, IBM enhanced keyboard) owns both controller ports and IRQ 1, the mouse (PNP0F13, PS/2
    /// mouse) only IRQ 12. Linux's i8042 PNP probe reads the ports from the keyboard's _CRS and the aux
    /// IRQ from the mouse's.
    /// </summary>
    public void WriteAml(AmlBuilder aml)
    {
        aml.Device("KBD_", keyboard => keyboard
            .NameEisaId("_HID", "PNP0303")
            .NameResources("_CRS", resources => resources
                .Io(DataPortAddress, 1)
                .Io(CommandPortAddress, 1)
                .Irq(KeyboardIrq)));
        aml.Device("MOU_", mouse => mouse
            .NameEisaId("_HID", "PNP0F13")
            .NameResources("_CRS", resources => resources.Irq(AuxIrq)));
    }
}
