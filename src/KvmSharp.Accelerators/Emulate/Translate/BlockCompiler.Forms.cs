using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Accelerators.Emulate.Translate.HostCode;

namespace KvmSharp.Accelerators.Emulate.Translate;

// One template per micro-op form. Each mirrors Executor.StepFast/StepFastOperands: the same operand places, the
// same truncations, the same flag record; what each computes is checked against the interpreter by the
// differential suite run with KVMSHARP_JIT=always and by --jit verify.
internal sealed unsafe partial class BlockCompiler
{
    /// <summary>Emits instruction <paramref name="k"/>; false (nothing emitted) when it has no compiled form here.</summary>
    private bool TryEmit(int k, in MicroOp op, out bool ended)
    {
        ended = false;
        if (_withoutStores && (op.DestinationKind == MicroOperand.Memory || op.Kind is MicroKind.Push or MicroKind.Call)) return false;
        bool memory = op.AccessesMemory || (op.Kind == MicroKind.Lea);
        if (memory && op.Kind != MicroKind.Lea && !MemoryCompiles(in op)) return false;
        if (op.Kind == MicroKind.Lea && op.DestinationKind != MicroOperand.Register) return false;
        switch (op.Kind)
        {
            case MicroKind.Nop:
                return true;
            case MicroKind.Mov or MicroKind.MovWide:
                return EmitMov(k, in op);
            case MicroKind.MovZeroExtend or MicroKind.MovSignExtend:
                return EmitExtend(k, in op);
            case MicroKind.Lea:
                EffectiveAddress(in op);
                StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RAX);
                return true;
            case MicroKind.Alu or MicroKind.AluWide:
                return EmitAlu(k, in op);
            case MicroKind.IncDec or MicroKind.IncDecWide:
                return EmitIncDec(k, in op);
            case MicroKind.Shift or MicroKind.ShiftWide:
                return EmitShift(k, in op);
            case MicroKind.Imul or MicroKind.ImulWide:
                return EmitImul(k, in op);
            case MicroKind.Setcc:
                return EmitSetcc(k, in op);
            case MicroKind.Cmovcc:
                return EmitCmovcc(k, in op);
            case MicroKind.Jcc:
            {
                EnsureProducer(k);
                var condition = op.Condition;
                if (!HostFlagsFor(ref condition)) return false;
                var taken = _a.CreateLabel();
                JumpIf(condition, taken);
                EndBlock(op.NextIp);
                _a.Label(ref taken);
                EndBlock(op.Target);
                ended = true;
                return true;
            }
            case MicroKind.Jmp:
                EndBlock(op.Target);
                ended = true;
                return true;
            case MicroKind.Push or MicroKind.Pop or MicroKind.Call or MicroKind.Ret:
                return EmitStack(k, in op, ref ended);
            case MicroKind.Generic:
                return EmitRegisterGeneric(in _block.Instructions[k]);
            default:
                return false;
        }
    }

    /// <summary>A host conditional jump to a label (Iced's assembler takes labels only through its per-condition methods).</summary>
    private void JumpIf(ConditionCode cc, Label target)
    {
        switch (cc)
        {
            case ConditionCode.o: _a.jo(target); break;
            case ConditionCode.no: _a.jno(target); break;
            case ConditionCode.b: _a.jb(target); break;
            case ConditionCode.ae: _a.jae(target); break;
            case ConditionCode.e: _a.je(target); break;
            case ConditionCode.ne: _a.jne(target); break;
            case ConditionCode.be: _a.jbe(target); break;
            case ConditionCode.a: _a.ja(target); break;
            case ConditionCode.s: _a.js(target); break;
            case ConditionCode.ns: _a.jns(target); break;
            case ConditionCode.p: _a.jp(target); break;
            case ConditionCode.np: _a.jnp(target); break;
            case ConditionCode.l: _a.jl(target); break;
            case ConditionCode.ge: _a.jge(target); break;
            case ConditionCode.le: _a.jle(target); break;
            default: _a.jg(target); break;
        }
    }

    private bool EmitMov(int k, in MicroOp op)
    {
        switch (op.DestinationKind, op.SourceKind)
        {
            case (MicroOperand.Register, MicroOperand.Register):
                LoadRegister(Register.RAX, op.Source, op.SourceSize, op.SourceHigh);
                StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RAX);
                return true;
            case (MicroOperand.Register, MicroOperand.Immediate):
                MovImmediate(rax, op.Immediate);
                StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RAX);
                return true;
            case (MicroOperand.Register, MicroOperand.Memory):
                EffectiveAddress(in op);
                Probe(op.SourceSize, write: false, k);
                LoadHost(Register.RAX, op.SourceSize);
                StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RAX);
                return true;
            case (MicroOperand.Memory, MicroOperand.Register or MicroOperand.Immediate):
                EffectiveAddress(in op);
                Probe(op.Size, write: true, k);
                if (op.SourceKind == MicroOperand.Register) LoadRegister(Register.RAX, op.Source, op.SourceSize, op.SourceHigh);
                else MovImmediate(rax, op.Immediate);
                StoreHost(op.Size, Register.RAX);
                return true;
            default:
                return false;
        }
    }

    private bool EmitExtend(int k, in MicroOp op)
    {
        if (op.DestinationKind != MicroOperand.Register) return false;
        if (op.SourceKind == MicroOperand.Register) LoadRegister(Register.RAX, op.Source, op.SourceSize, op.SourceHigh);
        else if (op.SourceKind == MicroOperand.Memory)
        {
            EffectiveAddress(in op);
            Probe(op.SourceSize, write: false, k);
            LoadHost(Register.RAX, op.SourceSize);
        }
        else return false;
        if (op.Kind == MicroKind.MovSignExtend)
        {
            switch (op.SourceSize)
            {
                case 1: _a.movsx(rax, al); break;
                case 2: _a.movsx(rax, ax); break;
                case 4: _a.movsxd(rax, eax); break;
            }
        }
        StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RAX);
        return true;
    }

    /// <summary>The destination operand into rcx (zero-extended); for memory, rsi is probed first for a read or a write.</summary>
    private void LoadDestination(int k, in MicroOp op, bool write)
    {
        if (op.DestinationKind == MicroOperand.Register)
        {
            LoadRegister(Register.RCX, op.Destination, op.Size, op.DestinationHigh);
            return;
        }
        EffectiveAddress(in op);
        Probe(op.Size, write, k);
        LoadHost(Register.RCX, op.Size);
    }

    private void StoreDestination(in MicroOp op, Register value)
    {
        if (op.DestinationKind == MicroOperand.Register) StoreRegister(op.Destination, op.Size, op.DestinationHigh, value);
        else StoreHost(op.Size, value);
    }

    private bool EmitAlu(int k, in MicroOp op)
    {
        if (op.DestinationKind is not (MicroOperand.Register or MicroOperand.Memory)) return false;
        bool carryIn = op.Flag is FlagOp.Adc or FlagOp.Sbb;
        if (carryIn)
        {
            EnsureProducer(k);
            // The carry-in first: it is evaluated from the record before anything of this instruction happens.
            if (!HostFlags(carry: true, overflow: false)) return false;
            _a.setc(r9b);
            _a.movzx(r9d, r9b);
        }
        // Operands: left (destination) in rcx, right (source) in rdx; rsi is the probed memory operand, if any.
        if (op.SourceKind == MicroOperand.Memory)
        {
            EffectiveAddress(in op);
            Probe(op.SourceSize, write: false, k);
            LoadHost(Register.RDX, op.SourceSize);
            LoadRegister(Register.RCX, op.Destination, op.Size, op.DestinationHigh);
        }
        else
        {
            LoadDestination(k, in op, write: op.WritesResult);
            if (op.SourceKind == MicroOperand.Immediate) MovImmediate(rdx, op.Immediate);
            else LoadRegister(Register.RDX, op.Source, op.SourceSize, op.SourceHigh);
        }
        switch (op.Flag)
        {
            case FlagOp.Add or FlagOp.Adc:
                _a.lea(rax, __[rcx + rdx]);
                if (carryIn) _a.add(rax, r9);
                Truncate(Register.RAX, op.Size);
                break;
            case FlagOp.Sub or FlagOp.Sbb:
                _a.mov(rax, rcx);
                _a.sub(rax, rdx);
                if (carryIn) _a.sub(rax, r9);
                Truncate(Register.RAX, op.Size);
                break;
            default:
                _a.mov(rax, rcx);
                switch (op.Logic)
                {
                    case LogicKind.And: _a.and(rax, rdx); break;
                    case LogicKind.Or: _a.or(rax, rdx); break;
                    default: _a.xor(rax, rdx); break;
                }
                break;
        }
        if (carryIn && !FlagsDeadAfter(k)) _a.mov(__qword_ptr[rbp + GuestLayout.Materialized], r9);   // CF is bit 0
        RecordFlags(op.Flag, op.Size, Register.RAX, Register.RCX, Register.RDX);
        if (op.WritesResult) StoreDestination(in op, Register.RAX);
        return true;
    }

    private bool EmitIncDec(int k, in MicroOp op)
    {
        if (op.DestinationKind is not (MicroOperand.Register or MicroOperand.Memory)) return false;
        LoadDestination(k, in op, write: true);
        if (op.Flag == FlagOp.Inc) _a.lea(rax, __[rcx + 1]);
        else _a.lea(rax, __[rcx - 1]);
        Truncate(Register.RAX, op.Size);
        RecordIncDec(op.Flag, op.Size, Register.RAX);   // clobbers rdx
        StoreDestination(in op, Register.RAX);
        return true;
    }
}
