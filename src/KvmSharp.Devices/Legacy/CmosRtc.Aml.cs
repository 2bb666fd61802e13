using KvmSharp.Boot.Acpi;

namespace KvmSharp.Devices.Legacy;

public sealed partial class CmosRtc : IAcpiDevice
{
    /// <summary>
    /// <c>Device(RTC_) { _HID EISAID("PNP0B00"), _CRS { IO(0x70, 2), IRQNoFlags(8) } }</c>: an AT
    /// real-time clock (PNP0B00; ACPI 6.5 §6.1.5, §6.2.2), which Linux's rtc-cmos binds by this ID.
    /// </summary>
    public void WriteAml(AmlBuilder aml) =>
        aml.Device("RTC_", rtc => rtc
            .NameEisaId("_HID", "PNP0B00")
            .NameResources("_CRS", resources => resources
                .Io(PortBase, PortCount)
                .Irq(Irq)));
}
