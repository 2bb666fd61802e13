using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// The architectural state of one emulated x86-64 CPU. General registers are an array indexed by the
/// hardware register number (RAX=0 … R15=15) so instruction handlers index them directly.
/// </summary>
public sealed unsafe class CpuState
{
    public const int Rax = 0, Rcx = 1, Rdx = 2, Rbx = 3, Rsp = 4, Rbp = 5, Rsi = 6, Rdi = 7;

    /// <summary>Pinned (the pinned object heap): the block translator's code addresses the registers directly.</summary>
    public readonly ulong[] Gpr = GC.AllocateArray<ulong>(16, pinned: true);

    // RIP and the flags live in pinned memory shared with translated code (see CpuHotState); the array keeps it alive.
    private readonly CpuHotState[] _hot = GC.AllocateArray<CpuHotState>(1, pinned: true);

    /// <summary>The state translated code reads and writes in place (pinned: the address never changes).</summary>
    public readonly CpuHotState* Hot;

    /// <summary>The address of <see cref="Gpr"/>[0] (pinned).</summary>
    public readonly ulong* GprPointer;

    public ref ulong Rip => ref Hot->Rip;

    public ref LazyFlags Flags => ref Hot->Flags;

    /// <summary>RFLAGS bits other than the six arithmetic ones (IF, DF, TF, IOPL, NT, AC, ID, …; bit 1 always set).</summary>
    public ulong SystemFlags = Registers.FlagsReserved;

    /// <summary>ES, CS, SS, DS, FS, GS in the hardware encoding order, with their hidden descriptor caches.</summary>
    public readonly SegmentRegisters Segments;
    public const int Es = 0, Cs = 1, Ss = 2, Ds = 3, Fs = 4, Gs = 5;

    public Segment Ldt, Tr;
    public DescriptorTable Gdt, Idt;
    public ulong Cr2, Cr3, Cr4, Cr8;
    private ulong _cr0 = 0x60000010, _efer;

    public CpuState()
    {
        Hot = (CpuHotState*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _hot[0]);
        GprPointer = (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref Gpr[0]);
        Segments = new SegmentRegisters(this);
        UpdateMode();
    }

    /// <summary>CR0; a write updates the mode values (protected mode, paging, code size, CPL).</summary>
    public ulong Cr0
    {
        get => _cr0;
        set
        {
            _cr0 = value;
            UpdateMode();
        }
    }

    /// <summary>EFER; a write updates the mode values (long mode active, 64-bit code).</summary>
    public ulong Efer
    {
        get => _efer;
        set
        {
            _efer = value;
            UpdateMode();
        }
    }
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

    // Mode-derived values, kept in fields: the fetch, every memory access and every stack operation need
    // them, and recomputing them from CR0/EFER/CS/SS per instruction cost ~8% of a Linux boot. Updated by
    // every write of CR0, EFER, CS or SS (the only inputs), which all go through UpdateMode.

    public bool LongModeActive { get; private set; }

    /// <summary>64-bit mode: long mode with a CS whose L bit is set (Intel SDM vol 3 §5.2.1).</summary>
    public bool Is64BitCode { get; private set; }

    public bool ProtectedMode { get; private set; }

    public bool Paging { get; private set; }

    /// <summary>Default operand/address size of the code segment in bytes: 8 (64-bit), 4 or 2.</summary>
    public int CodeSize { get; private set; }

    public int Cpl { get; private set; }

    /// <summary>Stack address size in bytes: 8 in 64-bit mode, else SS.B (SDM vol 1 §6.2.3).</summary>
    public int StackSize { get; private set; }

    /// <summary>Linear addresses wrap at 4 GiB outside long mode: all ones in long mode, else 0xFFFF_FFFF.</summary>
    public ulong LinearMask { get; private set; }

    /// <summary>
    /// What a decoded block's validity at a virtual address depends on besides the translation: code size,
    /// CPL (page permissions), paging and long mode. Part of the jump-cache and block-link keys.
    /// </summary>
    public int ExecutionMode { get; private set; }

    /// <summary>Recomputes the mode values from CR0, EFER, CS and SS.</summary>
    internal void UpdateMode()
    {
        ref readonly var cs = ref Segments[Cs];
        LongModeActive = (_efer & SpecialRegisters.EferLongModeActive) != 0;
        ProtectedMode = (_cr0 & SpecialRegisters.Cr0ProtectionEnable) != 0;
        Paging = (_cr0 & SpecialRegisters.Cr0Paging) != 0;
        Is64BitCode = LongModeActive && cs.Long != 0;
        CodeSize = Is64BitCode ? 8 : cs.DefaultSize != 0 && ProtectedMode ? 4 : 2;
        Cpl = ProtectedMode ? cs.Dpl : 0;
        StackSize = Is64BitCode ? 8 : Segments[Ss].DefaultSize != 0 && ProtectedMode ? 4 : 2;
        LinearMask = LongModeActive ? ulong.MaxValue : 0xFFFF_FFFF;
        ExecutionMode = CodeSize | Cpl << 4 | (Paging ? 1 << 6 : 0) | (LongModeActive ? 1 << 7 : 0);
    }

    public bool Interruptible => (SystemFlags & FlagInterrupt) != 0;

    /// <summary>An NMI handler runs: further NMIs wait until the next IRET (SDM vol 3 §6.7.1).</summary>
    public bool NmiBlocked;
}
