namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// MSR values every vCPU starts with, as a Linux guest expects from firmware (Intel SDM vol 4 lists
/// the MSRs): syscall MSRs cleared, the TSC at zero, fast strings on, and MTRRs defaulting to write-back.
/// </summary>
internal static class KvmBootMsrs
{
    public const uint SysenterCs = 0x174, SysenterEsp = 0x175, SysenterEip = 0x176;
    public const uint Star = 0xC000_0081, Lstar = 0xC000_0082, Cstar = 0xC000_0083, SyscallMask = 0xC000_0084;
    public const uint KernelGsBase = 0xC000_0102, Tsc = 0x10, MiscEnable = 0x1A0, MtrrDefType = 0x2FF;

    /// <summary>IA32_MISC_ENABLE bit 0: fast-string operations enabled.</summary>
    private const ulong MiscEnableFastString = 1;

    /// <summary>IA32_MTRR_DEF_TYPE: MTRRs enabled (bit 11), fixed-range enabled (bit 10), default type write-back (6).</summary>
    private const ulong MtrrDefaultWriteBack = (1 << 11) | (1 << 10) | 6;

    public static ReadOnlySpan<uint> Indices =>
        [SysenterCs, SysenterEsp, SysenterEip, Star, Lstar, Cstar, SyscallMask, KernelGsBase, Tsc, MiscEnable, MtrrDefType];

    public static ReadOnlySpan<ulong> Values =>
        [0, 0, 0, 0, 0, 0, 0, 0, 0, MiscEnableFastString, MtrrDefaultWriteBack];
}
