namespace KvmSharp.Boot.Multiboot;

/// <summary>Layout of the Multiboot information structure (Multiboot 0.6.96 §3.3): offsets and flag bits.</summary>
public static class MultibootInfo
{
    /// <summary>What the kernel finds in EAX at entry (§3.2).</summary>
    public const uint BootloaderMagic = 0x2BAD_B002;

    public const int Flags = 0, MemLower = 4, MemUpper = 8, BootDevice = 12, CmdLine = 16, ModsCount = 20, ModsAddr = 24,
        MmapLength = 44, MmapAddr = 48, BootLoaderName = 64;

    /// <summary>Bytes of the structure up to and including the framebuffer fields.</summary>
    public const int Size = 116;

    public const uint FlagMemory = 1 << 0, FlagCmdLine = 1 << 2, FlagMods = 1 << 3, FlagMmap = 1 << 6, FlagBootLoaderName = 1 << 9;

    /// <summary>A module list entry: mod_start, mod_end (one past the last byte, as GRUB sets it), string, reserved.</summary>
    public const int ModuleEntrySize = 16;

    /// <summary>An mmap entry: size (u32, = 20, not counting itself), base_addr (u64), length (u64), type (u32).</summary>
    public const int MmapEntrySize = 24;
    public const uint MmapEntrySizeField = 20;

    public const string BootLoaderNameValue = "KvmSharp";
}
