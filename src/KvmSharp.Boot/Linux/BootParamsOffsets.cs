namespace KvmSharp.Boot.Linux;

/// <summary>
/// Fields of struct boot_params (the "zero page") outside the setup header that the loader fills
/// (arch/x86/include/uapi/asm/bootparam.h; Documentation/arch/x86/zero-page.rst).
/// </summary>
internal static class BootParamsOffsets
{
    public const int Size = 4096;
    public const int AcpiRsdpAddr = 0x070;
    public const int ExtRamdiskImage = 0x0C0;
    public const int ExtRamdiskSize = 0x0C4;
    public const int ExtCmdLinePtr = 0x0C8;
    public const int E820Entries = 0x1E8;
    public const int E820Table = 0x2D0;

    /// <summary>E820_MAX_ENTRIES_ZEROPAGE.</summary>
    public const int E820MaxEntries = 128;

    // loadflags bits (boot.rst, field "loadflags").
    public const byte LoadedHigh = 0x01;
    public const byte CanUseHeap = 0x80;

    // xloadflags bits (boot.rst, field "xloadflags", protocol 2.12+).
    public const ushort XlfKernel64 = 0x01;
    public const ushort XlfCanBeLoadedAbove4G = 0x02;

    /// <summary>type_of_loader 0xFF: "undefined" loader, what boot.rst tells loaders without an assigned ID to use.</summary>
    public const byte UndefinedLoader = 0xFF;
}
