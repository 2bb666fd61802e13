namespace KvmSharp.Boot.Cpu;

/// <summary>
/// Segment selectors of the GDT the loaders write at <see cref="Memory.MemoryMap.BootGdt"/>. The 64-bit Linux
/// boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol") requires __BOOT_CS = 0x10 and
/// __BOOT_DS = 0x18; the 32-bit multiboot entry uses the same slots with a 32-bit code segment, so one
/// 4-entry table (0x500–0x51F, below the IDT at 0x520) serves both.
/// </summary>
public static class BootSelectors
{
    public const ushort Code = 0x10;
    public const ushort Data = 0x18;

    /// <summary>Entries: null, null (unused, as in Linux's own boot GDT), code, data.</summary>
    public const int GdtEntries = 4;
}
