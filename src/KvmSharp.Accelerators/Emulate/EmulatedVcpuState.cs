using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>
/// Everything of one software-CPU vCPU that a snapshot must carry: the architectural registers (flags
/// materialized), x87/MMX and SSE state, the MSRs it models, its local APIC, and the events between
/// instructions (NMI blocking, STI/MOV SS shadow, HLT, INIT/SIPI waits, an answered MMIO read, MMIO writes not yet
/// handed out). Caches (TLB, decoded blocks) are not state: a restore flushes them.
/// </summary>
public sealed record EmulatedVcpuState : VcpuState
{
    public RegistersState Registers { get; init; } = new();
    public SpecialRegistersState Special { get; init; } = new();

    /// <summary>DR0–DR7 (kept as MOV DR wrote them; breakpoints are not modelled).</summary>
    public ulong[] DebugRegisters { get; init; } = [];

    /// <summary>
    /// The MSRs the CPU keeps besides those in <see cref="Special"/> (EFER, APIC base) and the segment bases:
    /// STAR/LSTAR/CSTAR/SFMASK, KERNEL_GS_BASE, SYSENTER_*, PAT and every other MSR the guest wrote (kvmclock's among them).
    /// </summary>
    public MsrValue[] Msrs { get; init; } = [];

    /// <summary>The guest TSC minus guest nanoseconds (what IA32_TSC writes set).</summary>
    public ulong TscOffset { get; init; }

    public X87State X87 { get; init; } = new();

    /// <summary>XMM0–15 as (low, high) 64-bit halves.</summary>
    public ulong[] Xmm { get; init; } = [];
    public uint Mxcsr { get; init; } = 0x1F80;

    public LocalApicState Apic { get; init; } = new();

    /// <summary>An NMI handler runs: further NMIs wait until IRET.</summary>
    public bool NmiBlocked { get; init; }

    /// <summary>Interrupts wait one more instruction (after STI, MOV SS, POP SS).</summary>
    public bool InterruptShadow { get; init; }

    /// <summary>The CPU executed HLT and waits for an interrupt.</summary>
    public bool Halted { get; init; }

    /// <summary>An MMIO read the VMM answered; the instruction at RIP runs again with this value.</summary>
    public MmioAccessState? CompletedMmioRead { get; init; }

    /// <summary>MMIO writes of retired instructions still to be handed to the VMM, oldest first.</summary>
    public MmioAccessState[] PendingMmioWrites { get; init; } = [];
}

/// <summary>The x87 FPU (SDM vol 1 §8.1): the data registers in physical order R0–R7 (MMX's MM0–7 are their significands).</summary>
public sealed record X87State
{
    public Float80State[] Registers { get; init; } = [];
    public ushort Control { get; init; } = 0x37F;
    public ushort Status { get; init; }

    /// <summary>Two bits per register: 11b empty, 00b anything else.</summary>
    public ushort Tag { get; init; } = 0xFFFF;
    public ulong LastInstructionPointer { get; init; }
    public ulong LastDataPointer { get; init; }
    public ushort LastCs { get; init; }
    public ushort LastDs { get; init; }

    /// <summary>The last opcode's 11 bits.</summary>
    public ushort Opcode { get; init; }
}

/// <summary>An 80-bit register: 64-bit significand, sign and 15-bit exponent.</summary>
public sealed record Float80State
{
    public ulong Significand { get; init; }
    public ushort SignExponent { get; init; }
}

/// <summary>One MMIO access: guest-physical address, size in bytes (1, 2, 4 or 8) and value.</summary>
public sealed record MmioAccessState
{
    public ulong Address { get; init; }
    public int Size { get; init; }
    public ulong Value { get; init; }
}
