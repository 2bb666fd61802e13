namespace KvmSharp.Boot.Linux;

/// <summary>
/// Offsets of the real-mode kernel header ("setup header") fields, counted from the start of the bzImage,
/// which are also their offsets in struct boot_params (Documentation/arch/x86/boot.rst, "The Real-Mode
/// Kernel Header").
/// </summary>
internal static class SetupHeaderOffsets
{
    public const int Start = 0x1F1;
    public const int SetupSects = 0x1F1;
    public const int RootFlags = 0x1F2;
    public const int SysSize = 0x1F4;
    public const int VidMode = 0x1FA;
    public const int BootFlag = 0x1FE;
    public const int Jump = 0x200;
    public const int Header = 0x202;
    public const int Version = 0x206;
    public const int TypeOfLoader = 0x210;
    public const int LoadFlags = 0x211;
    public const int Code32Start = 0x214;
    public const int RamdiskImage = 0x218;
    public const int RamdiskSize = 0x21C;
    public const int HeapEndPtr = 0x224;
    public const int CmdLinePtr = 0x228;
    public const int InitrdAddrMax = 0x22C;
    public const int KernelAlignment = 0x230;
    public const int RelocatableKernel = 0x234;
    public const int MinAlignment = 0x235;
    public const int XLoadFlags = 0x236;
    public const int CmdlineSize = 0x238;
    public const int PayloadOffset = 0x248;
    public const int PayloadLength = 0x24C;
    public const int PrefAddress = 0x258;
    public const int InitSize = 0x260;
    public const int HandoverOffset = 0x264;

    /// <summary>Header fields stop before boot_params.edd_mbr_sig_buffer (arch/x86/include/uapi/asm/bootparam.h).</summary>
    public const int BootParamsHeaderLimit = 0x290;

    /// <summary>"HdrS", little-endian.</summary>
    public const uint HeaderMagic = 0x5372_6448;
    public const ushort BootFlagMagic = 0xAA55;
}
