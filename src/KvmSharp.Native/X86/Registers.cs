using System.Runtime.InteropServices;

namespace KvmSharp.Native.X86;

/// <summary>
/// General-purpose register state of one vCPU. The layout is that of struct kvm_regs, so the KVM
/// backend hands it to KVM_GET_REGS/KVM_SET_REGS as it is; the software CPU uses the same struct.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct Registers
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;

    /// <summary>RFLAGS bit 1 is reserved and always reads as 1 (Intel SDM vol 1 §3.4.3).</summary>
    public const ulong FlagsReserved = 1 << 1;
    public const ulong FlagInterrupt = 1 << 9;
}

/// <summary>A segment register with its hidden descriptor cache; layout of struct kvm_segment.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Segment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, DefaultSize, System, Long, Granularity, Available;
    public byte Unusable;
    public byte Padding;

    /// <summary>A flat segment covering 4 GiB. <paramref name="type"/> is the descriptor type nibble.</summary>
    public static Segment Flat(ushort selector, byte type, bool code64) => new()
    {
        Base = 0, Limit = 0xFFFF_FFFF, Selector = selector, Type = type, Present = 1, Dpl = 0,
        DefaultSize = code64 ? (byte)0 : (byte)1, System = 1, Long = code64 ? (byte)1 : (byte)0, Granularity = 1,
    };

    /// <summary>The 8-byte GDT descriptor for this segment (Intel SDM vol 3 §3.4.5).</summary>
    public readonly ulong ToDescriptor()
    {
        ulong limit = Granularity != 0 ? Limit >> 12 : Limit;
        return (limit & 0xFFFF)
             | ((Base & 0xFF_FFFF) << 16)
             | ((ulong)(Type & 0xF) << 40)
             | ((ulong)(System & 1) << 44)
             | ((ulong)(Dpl & 3) << 45)
             | ((ulong)(Present & 1) << 47)
             | (((limit >> 16) & 0xF) << 48)
             | ((ulong)(Available & 1) << 52)
             | ((ulong)(Long & 1) << 53)
             | ((ulong)(DefaultSize & 1) << 54)
             | ((ulong)(Granularity & 1) << 55)
             | (((Base >> 24) & 0xFF) << 56);
    }
}

/// <summary>GDTR/IDTR; layout of struct kvm_dtable.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct DescriptorTable
{
    public ulong Base;
    public ushort Limit;
    public fixed ushort Padding[3];
}

/// <summary>Segment, control and system registers; layout of struct kvm_sregs.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SpecialRegisters
{
    public Segment Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public DescriptorTable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
    public fixed ulong InterruptBitmap[4];

    // Intel SDM vol 3 §2.5 (control registers) and §2.2.1 (EFER).
    public const ulong Cr0ProtectionEnable = 1, Cr0MonitorCoprocessor = 1 << 1, Cr0ExtensionType = 1 << 4,
        Cr0NumericError = 1 << 5, Cr0WriteProtect = 1 << 16, Cr0Paging = 1UL << 31;
    public const ulong Cr4Pae = 1 << 5, Cr4Pge = 1 << 7, Cr4OsFxsr = 1 << 9, Cr4OsXmmExcpt = 1 << 10;
    public const ulong EferSyscall = 1, EferLongModeEnable = 1 << 8, EferLongModeActive = 1 << 10, EferNx = 1 << 11;
}

/// <summary>x87/SSE state; layout of struct kvm_fpu.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FpuState
{
    public fixed byte Fpr[128];
    public ushort Fcw;
    public ushort Fsw;
    public byte Ftwx;
    public byte Pad1;
    public ushort LastOpcode;
    public ulong LastIp;
    public ulong LastDp;
    public fixed byte Xmm[256];
    public uint Mxcsr;
    public uint Pad2;
}
