namespace KvmSharp.Devices.Pci;

/// <summary>
/// 00:01.3 of a UEFI machine: the PIIX4's power-management function (Intel 82371AB function 3, 8086:7113, class
/// 06/80/00) as far as firmware reads it: PMBA (0x40) holds our fixed ACPI PM block's base with its I/O-space bit,
/// and PMREGMISC (0x80) has PMIOSE set. OVMF's PlatformPei skips programming PMBA when PMIOSE is already set ("assume
/// the ACPI PMBA has been configured") and its timer library reads the PM timer at PMBA + 8: so the firmware uses the
/// block the FADT names, which stays where it is. Both registers are read-only; the SMBus and the device-resource
/// registers are absent (zero).
/// </summary>
public sealed class Piix4PowerManagement : IPciDevice
{
    public const int Slot = 1, Function = 3;
    public const ushort Device82371AbPm = 0x7113;
    private const int PmBaseOffset = 0x40, PmRegMiscOffset = 0x80;

    public Piix4PowerManagement(ushort pmIoBase)
    {
        Config = new PciConfigSpace(PciHostBridge.VendorIntel, Device82371AbPm, 0x06_80_00);
        Config.SetBytes(PmBaseOffset, [(byte)(pmIoBase | 1), (byte)(pmIoBase >> 8), 0, 0]);
        Config.SetBytes(PmRegMiscOffset, [1]);
    }

    public PciConfigSpace Config { get; }

    public void ConfigWritten(int offset, int length) { }

    public void BarRead(int bar, ulong offset, Span<byte> data) => data.Fill(0xFF);

    public void BarWrite(int bar, ulong offset, ReadOnlySpan<byte> data) { }
}
