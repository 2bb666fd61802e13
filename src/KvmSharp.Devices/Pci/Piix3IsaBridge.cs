namespace KvmSharp.Devices.Pci;

/// <summary>
/// 00:01.0 of a UEFI machine: the PIIX3's PCI-to-ISA bridge (Intel 82371SB function 0, 8086:7000, class 06/01/00), the
/// function 0 that makes slot 1 a multi-function device so that the PIIX4 power-management function at 00:01.3 is
/// found. Its PIRQ route registers (0x60-0x63, Intel 82371 datasheet §2.2.10), which OVMF's BDS programs, are kept as
/// written and otherwise ignored: INTx routing on this machine is fixed and told to the OS by ACPI _PRT.
/// </summary>
public sealed class Piix3IsaBridge : IPciDevice
{
    public const int Slot = 1, Function = 0;
    public const ushort Device82371SbIsa = 0x7000;
    private const int PirqRouteOffset = 0x60;

    public Piix3IsaBridge()
    {
        Config = new PciConfigSpace(PciHostBridge.VendorIntel, Device82371SbIsa, 0x06_01_00);
        Config.SetBytes(PirqRouteOffset, [0x80, 0x80, 0x80, 0x80]); // reset value: routing disabled
        Config.SetWriteMask(PirqRouteOffset, [0x8F, 0x8F, 0x8F, 0x8F]);
    }

    public PciConfigSpace Config { get; }

    public void ConfigWritten(int offset, int length) { }

    public void BarRead(int bar, ulong offset, Span<byte> data) => data.Fill(0xFF);

    public void BarWrite(int bar, ulong offset, ReadOnlySpan<byte> data) { }
}
