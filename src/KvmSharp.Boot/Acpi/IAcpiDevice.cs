namespace KvmSharp.Boot.Acpi;

/// <summary>
/// A device that describes itself to the guest in ACPI Machine Language (ACPI 6.5 §6, §20). The DSDT
/// builder calls <see cref="WriteAml"/> inside <c>Scope(\_SB)</c>; the device writes its own
/// <c>Device()</c> object(s) there (its _HID, _UID, _CRS, …), so the one place that knows a device's
/// ports and interrupts is the device itself.
/// </summary>
public interface IAcpiDevice
{
    void WriteAml(AmlBuilder aml);
}
