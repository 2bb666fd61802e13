namespace KvmSharp.Tests.Reference;

/// <summary>The CPU mode a reference engine starts in (Unicorn's UC_MODE_16/32/64).</summary>
public enum ReferenceMode
{
    /// <summary>Real mode: CR0 = 0, segment bases = selector × 16.</summary>
    Real16,
    /// <summary>Protected mode, CR0.PE set, flat 32-bit segments, no paging.</summary>
    Protected32,
    /// <summary>Long mode already on (EFER = LME|LMA, 64-bit CS), CR0.PG clear: addresses are physical.</summary>
    Long64,
}

/// <summary>General-purpose registers in x86 encoding order (ModRM/REX number = enum value).</summary>
public enum Gpr
{
    Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15,
}

/// <summary>Segment registers in x86 encoding order (Sreg field).</summary>
public enum SegmentRegister
{
    Es, Cs, Ss, Ds, Fs, Gs,
}

/// <summary>How a reference run ended. Guest-caused faults are outcomes, never exceptions.</summary>
public enum ReferenceOutcome
{
    /// <summary>RIP reached the requested stop address, or the requested instruction count ran.</summary>
    Completed,
    /// <summary>The instruction limit of <see cref="ReferenceCpu.Run"/> was hit before the stop address.</summary>
    InstructionLimit,
    /// <summary>A CPU exception or software interrupt was raised; <see cref="ReferenceRun.Vector"/> says which.</summary>
    CpuException,
    /// <summary>Unicorn could not decode the instruction (what hardware reports as #UD).</summary>
    InvalidInstruction,
    /// <summary>A data read touched memory that was never mapped.</summary>
    ReadUnmapped,
    /// <summary>A data write touched memory that was never mapped.</summary>
    WriteUnmapped,
    /// <summary>An instruction fetch touched memory that was never mapped.</summary>
    FetchUnmapped,
    /// <summary>HLT ran; RIP is after it, as on hardware.</summary>
    Halted,
}

/// <summary>The result of one run: how it ended, where RIP is, and the vector for a CPU exception.</summary>
public readonly record struct ReferenceRun(ReferenceOutcome Outcome, ulong Rip, int? Vector = null)
{
    public override string ToString() => Vector is { } v ? $"{Outcome} (vector {v}) at 0x{Rip:X}" : $"{Outcome} at 0x{Rip:X}";
}

/// <summary>A descriptor-table register (GDTR/IDTR): base and limit.</summary>
public readonly record struct DescriptorTable(ulong Base, ushort Limit);

/// <summary>Thrown when the reference CPU cannot be created: the library is missing, or Unicorn refused a host-side call.</summary>
public sealed class ReferenceCpuUnavailableException(string message, Exception? inner = null)
    : Exception(message, inner);
