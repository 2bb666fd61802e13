using System.Runtime.InteropServices;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// The part of a CPU's state that both tiers touch on every instruction — RIP and the lazy flag record — and
/// the words the block translator's code reads at block boundaries (attention, the instruction count and the
/// next timer poll). It lives in pinned memory (<see cref="CpuState.Hot"/>) so generated code can address it
/// at a fixed place while the interpreter uses the same fields through refs: either tier can stop at any
/// instruction boundary and the other go on from the same state, with nothing copied.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct CpuHotState
{
    public ulong Rip;
    public LazyFlags Flags;

    /// <summary>Non-zero when the run loop must look at something at the next block boundary (kick, interrupt, stale code).</summary>
    public int Attention;

    /// <summary>Instructions retired, while translated code runs (the run loop's count is copied in and out around it).</summary>
    public ulong Retired;

    /// <summary>The count at which the run loop polls the timers: translated code leaves when it is reached.</summary>
    public ulong NextEventCheck;

    /// <summary>
    /// Set by translated code that left at a direct jump it could have chained (the address of that jump's slot): the
    /// run loop fills the slot with the next block's code once it has found it.
    /// </summary>
    public nint ChainSlot;

    /// <summary>The translation (<see cref="Translate.CompiledBlock.Id"/>) that left for the interpreter at an instruction: with chaining, not always the one entered.</summary>
    public int ExitBlock;

    /// <summary>
    /// The translation epoch and execution mode as <see cref="Translate.JumpTable.Context"/> words them, set by the run
    /// loop before it enters translated code (which changes neither): jump-table entries of another context miss.
    /// </summary>
    public ulong Context;
}
