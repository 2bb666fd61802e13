using KvmSharp.Accelerators.Emulate.Cpu;

namespace KvmSharp.Accelerators.Emulate.Translate;

// Flag liveness (QEMU's TCG liveness pass does the same for cc_op/cc_src/cc_dst): a flag producer whose six flags
// are all overwritten by a later instruction of the block before anything reads them needs to record nothing. The
// state must still be exact wherever the code can stop — a slow path, a fault, the end of the block — so the flags
// count as dead only when every instruction up to the overwriting one is a register form that cannot leave the
// code, and the overwriting one cannot leave before it writes them either.
internal sealed unsafe partial class BlockCompiler
{
    // Off under --jit verify (the comparison at an exit wants the record as the interpreter has it) and after a
    // translation was cut inside a dead range (it is compiled again without).
    private bool _liveness;

    // The furthest instruction index some skipped record relied on (-1: none). A block cut at or before it would
    // hand the interpreter a state whose flags are not yet overwritten.
    private int _deadUntil;

    /// <summary>
    /// Whether the flags that instruction <paramref name="k"/> produces are overwritten before anything can read them
    /// or the code can stop (see above); false whenever in doubt.
    /// </summary>
    private bool FlagsDeadAfter(int k)
    {
        if (!_liveness) return false;
        var ops = _block.Ops;
        for (int j = k + 1; j < ops.Length; j++)
        {
            ref readonly var op = ref ops[j];
            bool registerOnly = op.DestinationKind is MicroOperand.Register or MicroOperand.None
                && op.SourceKind is MicroOperand.Register or MicroOperand.Immediate or MicroOperand.None
                && !op.AccessesMemory;
            if (!registerOnly) return false;
            switch (op.Kind)
            {
                case MicroKind.Mov or MicroKind.MovWide or MicroKind.MovZeroExtend or MicroKind.MovSignExtend or MicroKind.Nop:
                    continue;
                case MicroKind.Lea when op.DestinationKind == MicroOperand.Register:
                    continue;
                case MicroKind.Alu or MicroKind.AluWide when op.Flag is not (FlagOp.Adc or FlagOp.Sbb):
                case MicroKind.Imul or MicroKind.ImulWide when op.Size >= 2:
                    _deadUntil = Math.Max(_deadUntil, j);
                    return true;
                case MicroKind.Shift or MicroKind.ShiftWide
                    when op.Flag is FlagOp.Shl or FlagOp.Shr or FlagOp.Sar && op.SourceKind == MicroOperand.Immediate && op.Immediate != 0:
                    _deadUntil = Math.Max(_deadUntil, j);
                    return true;
                default:
                    // Readers (Jcc, SETcc, CMOVcc, ADC/SBB, rotates, INC/DEC keeping CF, shifts by CL that may not
                    // write), the stack and branch forms and everything generic.
                    return false;
            }
        }
        return false;   // live out of the block
    }
}
