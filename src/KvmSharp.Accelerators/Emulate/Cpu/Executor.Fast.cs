using System.Runtime.CompilerServices;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The pre-decoded forms of the commonest instructions (MicroOp). Operands come from the micro-op's
// places instead of Iced's accessors; what the instruction computes comes from the same value functions
// the generic path uses (ArithmeticValue, LogicValue, IncDecValue, ShiftValue, ImulValue, Condition,
// Push, Pop), so both paths agree by construction.
public sealed partial class Executor
{
    /// <summary>Executes a non-generic micro-op and advances RIP. Faults come before any state changes except flags (see <see cref="MicroOp.SavesFlags"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void StepFast(in MicroOp op)
    {
        var gpr = _gpr;
        switch (op.Kind)
        {
            case MicroKind.AluWide:
            {
                ulong left = gpr[op.Destination] & op.Mask;
                ulong right = op.SourceKind == MicroOperand.Immediate ? op.Immediate : gpr[op.Source] & op.Mask;
                ulong result;
                // ADD, SUB/CMP and the logic ops inline: their lazy record needs no carry-in (Materialized is
                // not read for them); ADC and SBB read CF and take the shared function.
                switch (op.Flag)
                {
                    case FlagOp.Add:
                        result = (left + right) & op.Mask;
                        _cpu.Flags.Set(FlagOp.Add, op.Size, result, left, right);
                        break;
                    case FlagOp.Sub:
                        result = (left - right) & op.Mask;
                        _cpu.Flags.Set(FlagOp.Sub, op.Size, result, left, right);
                        break;
                    case FlagOp.Logic:
                        result = op.Logic == LogicKind.Xor ? left ^ right : op.Logic == LogicKind.Or ? left | right : left & right;
                        _cpu.Flags.Set(FlagOp.Logic, op.Size, result, left, right);
                        break;
                    default:
                        result = ArithmeticValue(op.Flag, op.Size, left, right);
                        break;
                }
                if (op.WritesResult) gpr[op.Destination] = result;
                _cpu.Rip = op.NextIp;
                return;
            }
            case MicroKind.MovWide:
                gpr[op.Destination] = op.SourceKind == MicroOperand.Immediate ? op.Immediate : gpr[op.Source] & op.Mask;
                _cpu.Rip = op.NextIp;
                return;
            case MicroKind.IncDecWide:
                gpr[op.Destination] = IncDecValue(op.Flag, op.Size, gpr[op.Destination] & op.Mask);
                _cpu.Rip = op.NextIp;
                return;
            case MicroKind.ShiftWide:
            {
                ulong value = gpr[op.Destination] & op.Mask;
                int count = (int)op.Immediate;   // masked when compiled; below the width (32/64-bit operands)
                ulong result;
                switch (op.Flag)
                {
                    case FlagOp.Shl when count != 0:
                        result = (value << count) & op.Mask;
                        break;
                    case FlagOp.Shr when count != 0:
                        result = value >> count;
                        break;
                    case FlagOp.Sar when count != 0:
                        result = (ulong)((op.Size == 8 ? (long)value : (int)value) >> count) & op.Mask;
                        break;
                    default:
                        // A zero count changes no flag (the register is still written: a 32-bit one is zero-extended); rotates set theirs at once.
                        gpr[op.Destination] = count == 0 ? value : ShiftValue(op.Mnemonic, op.Size, value, count);
                        _cpu.Rip = op.NextIp;
                        return;
                }
                _cpu.Flags.Set(op.Flag, op.Size, result, value, (ulong)count);
                gpr[op.Destination] = result;
                _cpu.Rip = op.NextIp;
                return;
            }
            case MicroKind.ImulWide:
            {
                ulong source = gpr[op.Source] & op.Mask;
                ulong other = op.ThreeOperand ? op.Immediate : gpr[op.Destination] & op.Mask;
                gpr[op.Destination] = op.Size == 8
                    ? ImulValue(8, (long)source, (long)other)
                    : ImulValue(4, (int)source, (int)other);
                _cpu.Rip = op.NextIp;
                return;
            }
            case MicroKind.Jcc:
                _cpu.Rip = Condition(op.Condition) ? op.Target : op.NextIp;
                return;
        }
        StepFastOperands(in op);
    }

    /// <summary>The micro-ops with operands of every kind: one memory operand at most, registers of any width.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StepFastOperands(in MicroOp op)
    {
        ulong linear = op.AccessesMemory ? MemoryLinear(in op) : 0;
        switch (op.Kind)
        {
            case MicroKind.Nop:
                break;
            case MicroKind.Alu:
            {
                ulong left = ReadDestination(in op, linear), right = ReadSource(in op, linear);
                ulong result = op.Flag == FlagOp.Logic
                    ? LogicValue(op.Logic, op.Size, left, right)
                    : ArithmeticValue(op.Flag, op.Size, left, right);
                if (op.WritesResult) WriteDestination(in op, linear, result);
                break;
            }
            case MicroKind.Mov:
            case MicroKind.MovZeroExtend:   // the source is read at its own size: zero-extended already
                WriteDestination(in op, linear, ReadSource(in op, linear));
                break;
            case MicroKind.MovSignExtend:
                WriteDestination(in op, linear, SignExtend(ReadSource(in op, linear), op.SourceSize) & op.Mask);
                break;
            case MicroKind.Lea:
                WriteDestination(in op, 0, AddressOf(in op) & op.Mask);
                break;
            case MicroKind.IncDec:
                WriteDestination(in op, linear, IncDecValue(op.Flag, op.Size, ReadDestination(in op, linear)));
                break;
            case MicroKind.Shift:
            {
                ulong value = ReadDestination(in op, linear);
                int count = (int)((op.SourceKind == MicroOperand.Immediate ? op.Immediate : _gpr[CpuState.Rcx]) & (op.Size == 8 ? 0x3FUL : 0x1FUL));
                // A zero count changes nothing, but a 32-bit register is still written (upper half cleared).
                if (count != 0) WriteDestination(in op, linear, ShiftValue(op.Mnemonic, op.Size, value, count));
                else if (op.DestinationKind == MicroOperand.Register) WriteDestination(in op, 0, value);
                break;
            }
            case MicroKind.Imul:
            {
                long x = (long)SignExtend(ReadSource(in op, linear), op.Size);
                long y = (long)SignExtend(op.ThreeOperand ? op.Immediate : ReadDestination(in op, 0), op.Size);
                WriteDestination(in op, 0, ImulValue(op.Size, x, y));
                break;
            }
            case MicroKind.Setcc:
                WriteDestination(in op, linear, Condition(op.Condition) ? 1UL : 0);
                break;
            case MicroKind.Cmovcc:
            {
                ulong value = ReadSource(in op, linear);   // read (and maybe fault) even when the condition fails
                // A 32-bit CMOV writes (zero-extends) its destination even when the condition fails.
                WriteDestination(in op, 0, Condition(op.Condition) ? value : ReadDestination(in op, 0));
                break;
            }
            case MicroKind.Push:
                Push(ReadDestination(in op, 0), op.Size);
                break;
            case MicroKind.Pop:
                WriteDestination(in op, 0, Pop(op.Size));
                break;
            case MicroKind.Call:
                Push(op.NextIp & Mask(op.Size), op.Size);
                _cpu.Rip = op.Target;
                return;
            case MicroKind.Ret:
                _cpu.Rip = Pop(op.Size);
                return;
            case MicroKind.Jmp:
                _cpu.Rip = op.Target;
                return;
        }
        _cpu.Rip = op.NextIp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadDestination(in MicroOp op, ulong linear) => op.DestinationKind == MicroOperand.Register
        ? ReadRegister(op.Destination, op.Size, op.DestinationHigh)
        : _mmu.Read(linear, op.Size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadSource(in MicroOp op, ulong linear) => op.SourceKind switch
    {
        MicroOperand.Register => ReadRegister(op.Source, op.SourceSize, op.SourceHigh),
        MicroOperand.Immediate => op.Immediate,
        _ => _mmu.Read(linear, op.SourceSize),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteDestination(in MicroOp op, ulong linear, ulong value)
    {
        if (op.DestinationKind != MicroOperand.Register)
        {
            _mmu.Write(linear, op.Size, value & op.Mask);
            return;
        }
        ref ulong target = ref _gpr[op.Destination];
        switch (op.Size)
        {
            case 8: target = value; break;
            case 4: target = value & 0xFFFF_FFFF; break;   // 32-bit writes zero the upper half (SDM vol 1 §3.4.1.1)
            case 2: target = (target & ~0xFFFFUL) | (value & 0xFFFF); break;
            default:
                target = op.DestinationHigh ? (target & ~0xFF00UL) | ((value & 0xFF) << 8) : (target & ~0xFFUL) | (value & 0xFF);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadRegister(byte number, byte size, bool high)
    {
        ulong value = _gpr[number];
        return high ? (value >> 8) & 0xFF : value & Mask(size);
    }

    /// <summary>The effective address of a micro-op's memory operand, wrapped to its address size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong AddressOf(in MicroOp op)
    {
        ulong address = op.Displacement;
        if (op.Base != MicroOp.NoRegister) address += _gpr[op.Base];
        if (op.Index != MicroOp.NoRegister) address += _gpr[op.Index] * op.Scale;
        return address & op.AddressMask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong MemoryLinear(in MicroOp op) => op.FlatSegment ? AddressOf(in op) : Linear(op.Segment, AddressOf(in op));
}
