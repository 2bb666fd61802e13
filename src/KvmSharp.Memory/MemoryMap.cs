namespace KvmSharp.Memory;

/// <summary>
/// The guest-physical memory map of a KvmSharp machine: the one place that says where things live.
/// <code>
/// 0x0000_0000 ┬ real-mode IVT/BDA, boot structures (see the Boot* constants)
/// 0x0009_FC00 ┼ EBDA (reserved) … 0x000A_0000 VGA hole … 0x000E_0000 ACPI tables (RSDP found by a BIOS-style scan)
/// 0x0010_0000 ┼ kernel (1 MiB), RAM up to min(size, 3 GiB)
/// 0xC000_0000 ┼ PCI hole: 32-bit MMIO for device BARs
/// 0xE000_0000 ┼ PCI ECAM (256 MiB)
/// 0xF000_0000 ┼ PCI hole: 32-bit MMIO for BARs that firmware places
/// 0xFEC0_0000 ┼ IOAPIC · 0xFED0_0000 HPET (unused) · 0xFEE0_0000 LAPIC
/// 0xFEFF_C000 ┼ KVM identity-map page and TSS (4 pages), inside the hole, never RAM (QEMU's place for them)
/// 0xFF00_0000 ┼ firmware flash, up to 16 MiB ending at 4 GiB: SeaBIOS's 256 KiB, or OVMF's code with its variable
///             │ store below it (OVMF_VARS_4M at 0xFFC0_0000, OVMF_CODE_4M from 0xFFC8_4000)
/// 0x1_0000_0000 ┴ RAM above 4 GiB: what did not fit below the hole
/// </code>
/// </summary>
public static class MemoryMap
{
    public const ulong PageSize = 4096;

    // Low-memory boot structures (below the EBDA, all in the first 640 KiB).
    public const ulong BootGdt = 0x500;
    public const ulong BootIdt = 0x520;
    public const ulong MultibootInfo = 0x6000;
    public const ulong ZeroPage = 0x7000;
    public const ulong BootStackTop = 0x8FF0;
    public const ulong PageTablePml4 = 0x9000;
    public const ulong PageTablePdpt = 0xA000;
    /// <summary>Four page directories (0xB000–0xEFFF) identity-map the first 4 GiB with 2 MiB pages.</summary>
    public const ulong PageTablePd = 0xB000;
    public const ulong CommandLine = 0x20000;
    public const ulong CommandLineMax = 0x10000;
    /// <summary>Multiboot module list and its strings.</summary>
    public const ulong MultibootScratch = 0x30000;
    public const ulong EbdaStart = 0x9FC00;
    public const ulong LowRamEnd = 0xA0000;
    public const ulong AcpiTables = 0xE0000;
    public const ulong AcpiTablesEnd = 0x100000;
    public const ulong KernelStart = 0x100000;

    // The PCI hole and the fixed MMIO devices in it.
    public const ulong PciHoleStart = 0xC000_0000;
    public const ulong PciMmio32Start = 0xC000_0000;
    public const ulong PciMmio32End = 0xE000_0000;
    public const ulong PciEcamStart = 0xE000_0000;
    public const ulong PciEcamSize = 0x1000_0000;
    public const ulong IoApicStart = 0xFEC0_0000;
    public const ulong LapicStart = 0xFEE0_0000;
    /// <summary>
    /// KVM's identity-map page and its 3-page TSS (KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_TSS_ADDR) where QEMU puts them,
    /// just below the flash, so that a 4 MiB OVMF fits above them.
    /// </summary>
    public const ulong KvmIdentityMap = 0xFEFF_C000;
    public const ulong KvmTss = 0xFEFF_D000;
    public const ulong PciHoleEnd = 0x1_0000_0000;
    /// <summary>
    /// The firmware's flash (code, and below it any writable variable store) ends at 4 GiB and may take up to 16 MiB,
    /// down to the KVM pages (SeaBIOS takes 256 KiB, OVMF's 4 MiB build 4 MiB; QEMU's pc machine allows 8 MiB).
    /// </summary>
    public const ulong FirmwareMaxSize = PciHoleEnd - (KvmTss + 3 * PageSize);
    /// <summary>
    /// 32-bit MMIO that firmware places BARs in: SeaBIOS, meeting a host bridge it does not know, allocates downwards
    /// from the IOAPIC (its BUILD_PCIMEM_END); from the end of the ECAM up to there.
    /// </summary>
    public const ulong PciMmio32HighStart = PciEcamStart + PciEcamSize;
    public const ulong PciMmio32HighEnd = IoApicStart;
    /// <summary>
    /// The top of the 64-bit window for BARs that firmware places above 4 GiB (OVMF puts 64-bit BARs in an aperture it
    /// sizes itself, 32 GiB from 32 GiB on a small machine): 1 TiB, within the 40 physical address bits any x86-64 has.
    /// </summary>
    public const ulong PciMmio64End = 1UL << 40;

    /// <summary>Where the 64-bit BAR window starts: at 4 GiB, or after the RAM above it.</summary>
    public static ulong PciMmio64Start(ulong ramSize)
    {
        var ranges = RamRanges(ramSize);
        ulong end = ranges[^1].Start.Value + ranges[^1].Size;
        return Math.Max(PciHoleEnd, end);
    }

    // I/O ports that the ACPI tables point the guest at (port space, not memory, but part of the same map).
    /// <summary>
    /// ACPI PM register block (PM1a_EVT_BLK, PM1a_CNT_BLK, PM_TMR_BLK), at 0x600 as QEMU's ICH9 puts it; the
    /// registers' offsets inside it are KvmSharp.Boot.Acpi.AcpiPmLayout's.
    /// </summary>
    public const ushort AcpiPmIoBase = 0x600;
    /// <summary>ICH "Reset Control Register" that the FADT's RESET_REG names; it shares 0xCF8-0xCFB with PCI CONFIG_ADDRESS.</summary>
    public const ushort ResetControlPort = 0xCF9;

    /// <summary>Smallest RAM we accept: room for the boot structures, a kernel and its heap.</summary>
    public const ulong MinimumRam = 2 * 1024 * 1024;

    /// <summary>The RAM ranges for a guest of <paramref name="size"/> bytes: below the PCI hole first, the rest above 4 GiB.</summary>
    public static IReadOnlyList<(GuestAddress Start, ulong Size)> RamRanges(ulong size)
    {
        if (size < MinimumRam || size % PageSize != 0)
            throw new ArgumentOutOfRangeException(nameof(size), $"guest RAM must be a multiple of 4 KiB and at least {MinimumRam >> 20} MiB");
        if (size <= PciHoleStart)
            return [(new GuestAddress(0), size)];
        return [(new GuestAddress(0), PciHoleStart), (new GuestAddress(PciHoleEnd), size - PciHoleStart)];
    }
}
