using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// The architectural state of one emulated x86-64 CPU. General registers are an array indexed by the
/// hardware register number (RAX=0 … R15=15) so instruction handlers index them directly.
/// </summary>
public sealed class CpuState
{
    public const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, Rsp = 4, Rbp = 5, Rsi = 6, Rdi = 7;

    public readonly ulong[] Gpr = new ulong[16];
    public ulong Rip;
    public LazyFlags Flags;

    /// <summary>RFLAGS bits other than the six arithmetic ones (IF, DF, TF, IOPL, NT, AC, ID, …; bit 1 always set).</summary>
    public ulong SystemFlags = Registers.FlagsReserved;

    /// <summary>ES, CS, SS, DS, FS, GS in the hardware encoding order, with their hidden descriptor caches.</summary>
    public readonly Segment[] Segments = new Segment[6];
    public const int Es = 0, Cs = 1, Ss = 2, Ds = 3, Fs = 4, Gs = 5;

    public Segment Ldt, Tr;
    public DescriptorTable Gdt, Idt;
    public ulong Cr0 = 0x60000010, Cr2, Cr3, Cr4, Cr8, Efer;
    public ulong ApicBase = 0xFEE00000 | (1 << 11);
    public ulong KernelGsBase, Star, Lstar, Cstar, SyscallMask, SysenterCs, SysenterEsp, SysenterEip, Tsc, Pat = 0x0007040600070406;
    public readonly Dictionary<uint, ulong> OtherMsrs = [];

    /// <summary>XMM0–15 as (low, high) halves.</summary>
    public readonly ulong[] Xmm = new ulong[32];
    public uint Mxcsr = 0x1F80;
    public ushort FpuControl = 0x37F, FpuStatus, FpuTag = 0xFFFF;

    /// <summary>
    /// x87 data registers R0–R7 in physical order: ST(i) is R[(TOP + i) mod 8], TOP being FSW bits 11–13 (SDM vol 1
    /// §8.1.2). <see cref="FpuTag"/> keeps 11b for an empty register and 00b for any other; the full tag classes
    /// are computed from the contents when FSTENV/FSAVE store them.
    /// </summary>
    public readonly X87.Float80[] Fpr = new X87.Float80[8];

    /// <summary>Last x87 instruction and data pointers and opcode (SDM vol 1 §8.1.8–9), as FSTENV/FXSAVE store them.</summary>
    public ulong FpuLastIp, FpuLastDp;
    public ushort FpuLastCs, FpuLastDs, FpuOpcode;

    public const ulong FlagTrap = 1 << 8, FlagInterrupt = 1 << 9, FlagDirection = 1 << 10, FlagIopl = 3 << 12,
        FlagNested = 1 << 14, FlagResume = 1 << 16, FlagVm86 = 1 << 17, FlagAlignment = 1 << 18, FlagId = 1 << 21;

    public ulong Rflags
    {
        get => SystemFlags | Flags.ToBits();
        set
        {
            Flags.Store(value);
            SystemFlags = (value & ~LazyFlags.ArithmeticMask) | Registers.FlagsReserved;
        }
    }

    public bool LongModeActive => (Efer & SpecialRegisters.EferLongModeActive) != 0;

    /// <summary>64-bit mode: long mode with a CS whose L bit is set (Intel SDM vol 3 §5.2.1).</summary>
    public bool Is64BitCode => LongModeActive && Segments[Cs].Long != 0;

    public bool ProtectedMode => (Cr0 & SpecialRegisters.Cr0ProtectionEnable) != 0;

    public bool Paging => (Cr0 & SpecialRegisters.Cr0Paging) != 0;

    /// <summary>Default operand/address size of the code segment in bytes: 8 (64-bit), 4 or 2.</summary>
    public int CodeSize => Is64BitCode ? 8 : Segments[Cs].DefaultSize != 0 && ProtectedMode ? 4 : 2;

    public int Cpl => ProtectedMode ? Segments[Cs].Dpl : 0;

    public bool Interruptible => (SystemFlags & FlagInterrupt) != 0;

    /// <summary>An NMI handler runs: further NMIs wait until the next IRET (SDM vol 3 §6.7.1).</summary>
    public bool NmiBlocked;
}
