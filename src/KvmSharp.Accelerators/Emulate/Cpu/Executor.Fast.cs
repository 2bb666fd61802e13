using System.Runtime.CompilerServices;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The pre-decoded forms of the commonest instructions (MicroOp). Operands come from the micro-op's
// register numbers instead of Iced's accessors; what the instruction computes comes from the same value
// functions the generic path uses (ArithmeticValue, LogicValue, IncDecValue, ShiftValue, Condition).
public sealed partial class Executor
{
    /// <summary>Executes a non-generic micro-op and advances RIP. Only Load and Store can fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void StepFast(in MicroOp op)
    {
        var gpr = _gpr;
        switch (op.Kind)
        {
            case MicroKind.AluRegister:
                AluFast(in op, gpr[op.Source] & op.Mask);
                break;
            case MicroKind.AluImmediate:
                AluFast(in op, op.Immediate);
                break;
            case MicroKind.MoveRegister:
                gpr[op.Destination] = gpr[op.Source] & op.Mask;
                break;
            case MicroKind.MoveImmediate:
                gpr[op.Destination] = op.Immediate;
                break;
            case MicroKind.Lea:
                gpr[op.Destination] = AddressOf(in op) & op.Mask;
                break;
            case MicroKind.Load:
                gpr[op.Destination] = _mmu.Read(Linear(op.Segment, AddressOf(in op)), op.Size);
                break;
            case MicroKind.Store:
                _mmu.Write(Linear(op.Segment, AddressOf(in op)), op.Size, gpr[op.Source] & op.Mask);
                break;
            case MicroKind.IncDec:
                gpr[op.Destination] = IncDecValue(op.Flag, op.Size, gpr[op.Destination] & op.Mask);
                break;
            case MicroKind.ShiftImmediate:
            {
                ulong value = gpr[op.Destination] & op.Mask;
                // A zero count changes no flags, but the 32-bit register is still written (upper half cleared).
                gpr[op.Destination] = op.Immediate == 0 ? value : ShiftValue(op.Mnemonic, op.Size, value, (int)op.Immediate);
                break;
            }
            case MicroKind.Jcc:
                _cpu.Rip = Condition(op.Condition) ? op.Target : op.NextIp;
                return;
            case MicroKind.Jmp:
                _cpu.Rip = op.Target;
                return;
        }
        _cpu.Rip = op.NextIp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AluFast(in MicroOp op, ulong right)
    {
        ulong left = _gpr[op.Destination] & op.Mask;
        ulong result = op.Flag == FlagOp.Logic
            ? LogicValue(op.Logic, op.Size, left, right)
            : ArithmeticValue(op.Flag, op.Size, left, right);
        if (op.WritesResult) _gpr[op.Destination] = result;
    }

    /// <summary>The effective address of a micro-op's memory operand, wrapped to its address size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong AddressOf(in MicroOp op)
    {
        ulong address = op.Immediate;
        if (op.Base != MicroOp.NoRegister) address += _gpr[op.Base];
        if (op.Index != MicroOp.NoRegister) address += _gpr[op.Index] * op.Scale;
        return address & op.AddressMask;
    }
}
