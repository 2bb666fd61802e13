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

    private bool EmitShift(int k, in MicroOp op)
    {
        if (op.Mnemonic is Mnemonic.Rol or Mnemonic.Ror) return EmitRotate(k, in op);
        // SHL/SHR/SAR here; RCL/RCR stay interpreted.
        if (op.Flag is not (FlagOp.Shl or FlagOp.Shr or FlagOp.Sar)) return false;
        if (op.DestinationKind is not (MicroOperand.Register or MicroOperand.Memory)) return false;
        if (op.SourceKind == MicroOperand.Register) return EmitShiftByCl(k, in op);
        if (op.SourceKind != MicroOperand.Immediate) return false;
        int count = (int)op.Immediate;   // masked at decode
        if (count == 0)
        {
            // No flag changes; a register is still written (a 32-bit one zero-extended); memory is read (and may fault) only.
            LoadDestination(k, in op, write: false);
            if (op.DestinationKind == MicroOperand.Register) StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RCX);
            return true;
        }
        LoadDestination(k, in op, write: true);
        _a.mov(rax, rcx);
        switch (op.Flag)
        {
            case FlagOp.Shl:
                _a.shl(rax, (byte)count);
                Truncate(Register.RAX, op.Size);
                break;
            case FlagOp.Shr:
                _a.shr(rax, (byte)count);
                break;
            default:
                switch (op.Size)
                {
                    case 1: _a.movsx(rax, al); break;
                    case 2: _a.movsx(rax, ax); break;
                    case 4: _a.movsxd(rax, eax); break;
                }
                _a.sar(rax, (byte)Math.Min(count, 63));
                Truncate(Register.RAX, op.Size);
                break;
        }
        MovImmediate(rdx, (ulong)count);
        RecordFlags(op.Flag, op.Size, Register.RAX, Register.RCX, Register.RDX);
        _producer.Count = count;
        StoreDestination(in op, Register.RAX);
        return true;
    }

    /// <summary>
    /// ROL/ROR by an immediate: the result by the host's rotate of the same size; CF and OF as the interpreter computes
    /// them from the result, merged with the other four flags as they were (LazyFlags.Store: the record becomes explicit
    /// bits), which come from the earlier producer redone on the host, or from an explicit record.
    /// </summary>
    private bool EmitRotate(int k, in MicroOp op)
    {
        if (op.SourceKind != MicroOperand.Immediate || op.DestinationKind is not (MicroOperand.Register or MicroOperand.Memory)) return false;
        if (op.Immediate != 0 && FlagsDeadAfter(k)) return EmitRotateWithoutFlags(k, in op);
        if (op.Immediate != 0) EnsureProducer(k);
        int count = (int)op.Immediate, size = op.Size, bits = size * 8;
        const int OtherFour = (int)(LazyFlags.PF | LazyFlags.AF | LazyFlags.ZF | LazyFlags.SF);
        const int NoAdjust = (int)(LazyFlags.PF | LazyFlags.ZF | LazyFlags.SF);
        // Which earlier flags can be had here (decided before anything is emitted).
        int keep;
        switch (_producer.Known ? _producer.Op : (FlagOp?)null)
        {
            case FlagOp.Add or FlagOp.Sub or FlagOp.Adc or FlagOp.Sbb or FlagOp.Inc or FlagOp.Dec: keep = OtherFour; break;
            case FlagOp.Logic or FlagOp.MulResult: keep = NoAdjust; break;   // AF is 0 in the interpreter's record
            case FlagOp.Shl or FlagOp.Shr or FlagOp.Sar when _producer.Count < bits && _producer.Size == size || _producer.Count < _producer.Size * 8: keep = NoAdjust; break;
            case FlagOp.None or null: keep = OtherFour; break;   // explicit bits (checked at run time when unknown)
            default: return false;
        }
        if (count == 0)
        {
            // No flag changes; a register is still written (zero-extended), memory only read.
            LoadDestination(k, in op, write: false);
            if (op.DestinationKind == MicroOperand.Register) StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RCX);
            return true;
        }
        if (!_producer.Known)
        {
            _a.cmp(__byte_ptr[rbp + GuestLayout.FlagsOp], (int)FlagOp.None);
            _a.jne(Exit(k));
        }
        // r11 = the other four flags as they are now (before the operand: redoing the producer clobbers rax and rcx,
        // the probe does not touch r11).
        if (!_producer.Known || _producer.Op == FlagOp.None)
        {
            _a.mov(r11, __qword_ptr[rbp + GuestLayout.Materialized]);
        }
        else
        {
            if (_producer.Op == FlagOp.MulResult)
            {
                _a.mov(rax, __qword_ptr[rbp + GuestLayout.Result]);
                _a.Emit(BySize(_producer.Size, Code.Test_rm64_r64, Code.Test_rm32_r32, Code.Test_rm16_r16, Code.Test_rm8_r8), Sized(Register.RAX, _producer.Size), Sized(Register.RAX, _producer.Size));
            }
            else HostFlags(carry: false, overflow: false);
            _a.pushfq();
            _a.pop(r11);
        }
        _a.and(r11d, keep);
        LoadDestination(k, in op, write: true);
        // The rotate on the host, at the operand's size.
        _a.mov(rax, rcx);
        var host = Sized(Register.RAX, size);
        _a.Emit(op.Mnemonic == Mnemonic.Rol
            ? BySize(size, Code.Rol_rm64_imm8, Code.Rol_rm32_imm8, Code.Rol_rm16_imm8, Code.Rol_rm8_imm8)
            : BySize(size, Code.Ror_rm64_imm8, Code.Ror_rm32_imm8, Code.Ror_rm16_imm8, Code.Ror_rm8_imm8), host, count);
        Truncate(Register.RAX, size);
        // CF: ROL the result's low bit, ROR its top bit. OF: ROL top ^ CF, ROR top ^ next (SDM "RCL/RCR/ROL/ROR").
        _a.mov(rdx, rax);
        _a.shr(rdx, (byte)(bits - 1));                  // top bit
        _a.mov(r9, rax);
        if (op.Mnemonic == Mnemonic.Rol)
        {
            _a.and(r9d, 1);                             // CF
            _a.or(r11, r9);
            _a.xor(rdx, r9);                            // OF = top ^ CF
        }
        else
        {
            _a.shr(r9, (byte)(bits - 2));
            _a.and(r9d, 1);                             // the bit below the top
            _a.or(r11, rdx);                            // CF = top
            _a.xor(rdx, r9);                            // OF = top ^ next
        }
        _a.shl(rdx, 11);
        _a.or(r11, rdx);
        _a.mov(__byte_ptr[rbp + GuestLayout.FlagsOp], (int)FlagOp.None);
        _a.mov(__qword_ptr[rbp + GuestLayout.Materialized], r11);
        _producer = new FlagProducer { Known = true, Op = FlagOp.None, Size = size };
        StoreDestination(in op, Register.RAX);
        return true;
    }

    /// <summary>ROL/ROR by a non-zero immediate whose CF and OF nothing reads (<see cref="FlagsDeadAfter"/>): the rotate only.</summary>
    private bool EmitRotateWithoutFlags(int k, in MicroOp op)
    {
        int size = op.Size;
        LoadDestination(k, in op, write: true);
        _a.mov(rax, rcx);
        _a.Emit(op.Mnemonic == Mnemonic.Rol
            ? BySize(size, Code.Rol_rm64_imm8, Code.Rol_rm32_imm8, Code.Rol_rm16_imm8, Code.Rol_rm8_imm8)
            : BySize(size, Code.Ror_rm64_imm8, Code.Ror_rm32_imm8, Code.Ror_rm16_imm8, Code.Ror_rm8_imm8), Sized(Register.RAX, size), (int)op.Immediate);
        Truncate(Register.RAX, size);
        _producer = new FlagProducer { Known = true, Op = FlagOp.None, Size = size };
        StoreDestination(in op, Register.RAX);
        return true;
    }

    /// <summary>SHL/SHR/SAR by CL: the count masked to 5 (6) bits; a zero count changes no flag and writes only a register.</summary>
    private bool EmitShiftByCl(int k, in MicroOp op)
    {
        if (op.DestinationKind == MicroOperand.Memory)
        {
            EffectiveAddress(in op);
            Probe(op.Size, write: true, k);
        }
        _a.mov(r9, __qword_ptr[rbx + CpuState.Rcx * 8]);
        _a.and(r9d, op.Size == 8 ? 0x3F : 0x1F);
        if (op.DestinationKind == MicroOperand.Memory) LoadHost(Register.RDX, op.Size);
        else LoadRegister(Register.RDX, op.Destination, op.Size, op.DestinationHigh);
        var zero = _a.CreateLabel();
        var done = _a.CreateLabel();
        _a.test(r9d, r9d);
        _a.jz(zero);
        _a.mov(rax, rdx);
        _a.mov(ecx, r9d);
        switch (op.Flag)
        {
            case FlagOp.Shl:
                _a.shl(rax, cl);
                Truncate(Register.RAX, op.Size);
                break;
            case FlagOp.Shr:
                _a.shr(rax, cl);
                break;
            default:
                switch (op.Size)
                {
                    case 1: _a.movsx(rax, al); break;
                    case 2: _a.movsx(rax, ax); break;
                    case 4: _a.movsxd(rax, eax); break;
                }
                _a.sar(rax, cl);
                Truncate(Register.RAX, op.Size);
                break;
        }
        RecordFlags(op.Flag, op.Size, Register.RAX, Register.RDX, Register.R9);
        StoreDestination(in op, Register.RAX);
        if (op.DestinationKind == MicroOperand.Register)
        {
            _a.jmp(done);
            _a.Label(ref zero);
            StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RDX);
            _a.Label(ref done);
        }
        else
        {
            _a.Label(ref zero);   // memory with a zero count: read (probed), not written
            _a.nop();
        }
        _producer = default;   // the count may have been zero: whose flags these are is known only at run time
        return true;
    }

    /// <summary>
    /// A few instructions without a micro-op form, register operands only: NOT (no flags), NEG (recorded as the
    /// interpreter does: Neg, operand in Right), BSWAP, and the accumulator sign extensions CDQE/CDQ/CQO.
    /// </summary>
    private bool EmitRegisterGeneric(in Instruction i)
    {
        if (i.HasLockPrefix || i.HasRepPrefix || i.HasRepnePrefix) return false;
        switch (i.Mnemonic)
        {
            case Mnemonic.Not or Mnemonic.Neg or Mnemonic.Bswap when i.OpCount == 1 && i.Op0Kind == OpKind.Register:
            {
                var slot = RegisterFile.Of(i.Op0Register);
                if (slot.Index < 0) return false;
                int size = slot.Size;
                if (i.Mnemonic == Mnemonic.Bswap && size < 4) return false;   // BSWAP r16 is undefined
                LoadRegister(Register.RCX, slot.Index, size, slot.HighByte);
                switch (i.Mnemonic)
                {
                    case Mnemonic.Not:
                        _a.mov(rax, rcx);
                        _a.not(rax);
                        Truncate(Register.RAX, size);
                        break;
                    case Mnemonic.Neg:
                        _a.xor(eax, eax);
                        _a.sub(rax, rcx);
                        Truncate(Register.RAX, size);
                        _a.xor(edx, edx);
                        RecordFlags(FlagOp.Neg, size, Register.RAX, Register.RDX, Register.RCX);
                        _producer = default;   // NEG's host flags are not redone here
                        break;
                    default:
                        _a.mov(rax, rcx);
                        if (size == 8) _a.bswap(rax);
                        else _a.bswap(eax);
                        break;
                }
                StoreRegister(slot.Index, size, slot.HighByte, Register.RAX);
                return true;
            }
            case Mnemonic.Mul or Mnemonic.Div when i.OpCount == 1 && i.Op0Kind == OpKind.Register:
                return EmitMulDiv(in i);
            case Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2 or Mnemonic.Prefetchw:
                return true;   // a hint: no access, no fault (SDM "PREFETCHh")
            case Mnemonic.Lfence: _a.lfence(); return true;
            case Mnemonic.Sfence: _a.sfence(); return true;
            case Mnemonic.Mfence: _a.mfence(); return true;   // other vCPUs are host threads: the host's fence orders the same
            case Mnemonic.Cdqe:
                _a.movsxd(rax, __dword_ptr[rbx + CpuState.Rax * 8]);
                _a.mov(__qword_ptr[rbx + CpuState.Rax * 8], rax);
                return true;
            case Mnemonic.Cdq or Mnemonic.Cqo:
            {
                int size = i.Mnemonic == Mnemonic.Cdq ? 4 : 8;
                LoadRegister(Register.RAX, CpuState.Rax, size, false);
                if (size == 4) { _a.cdq(); StoreRegister(CpuState.Rdx, 4, false, Register.RDX); }
                else { _a.cqo(); StoreRegister(CpuState.Rdx, 8, false, Register.RDX); }
                return true;
            }
            default:
                return false;
        }
    }

    /// <summary>
    /// MUL and DIV of RDX:RAX (EDX:EAX) by a 32/64-bit register, on the host. DIV by zero or with a quotient too wide
    /// raises #DE: those leave for the interpreter before anything changed (the quotient does not fit exactly when the
    /// high half is not below the divisor). DIV leaves the flags as they were, as the interpreter does; MUL records
    /// CF = OF = "the high half is not zero" as <c>SetMulFlags</c>.
    /// </summary>
    private bool EmitMulDiv(in Instruction i)
    {
        var slot = RegisterFile.Of(i.Op0Register);
        if (slot.Index < 0 || slot.Size < 4) return false;
        int size = slot.Size;
        var r9 = Sized(Register.R9, size);
        LoadRegister(Register.R9, slot.Index, size, false);
        if (i.Mnemonic == Mnemonic.Div)
        {
            _a.test(AssemblerRegisters.r9, AssemblerRegisters.r9);
            _a.jz(Exit(_k));
            LoadRegister(Register.RDX, CpuState.Rdx, size, false);
            _a.cmp(rdx, AssemblerRegisters.r9);
            _a.jae(Exit(_k));
            LoadRegister(Register.RAX, CpuState.Rax, size, false);
            _a.Emit(size == 8 ? Code.Div_rm64 : Code.Div_rm32, r9);
            StoreRegister(CpuState.Rax, size, false, Register.RAX);
            StoreRegister(CpuState.Rdx, size, false, Register.RDX);
            return true;
        }
        LoadRegister(Register.RAX, CpuState.Rax, size, false);
        _a.Emit(size == 8 ? Code.Mul_rm64 : Code.Mul_rm32, r9);
        _a.seto(r8b);
        _a.movzx(r8d, r8b);
        _a.imul(r8d, r8d, (int)(LazyFlags.CF | LazyFlags.OF));
        StoreRegister(CpuState.Rax, size, false, Register.RAX);
        StoreRegister(CpuState.Rdx, size, false, Register.RDX);
        if (!FlagsDeadAfter(_k))
        {
            StoreOpAndSize(FlagOp.MulResult, size);
            _a.mov(__qword_ptr[rbp + GuestLayout.Result], rax);   // the low half, zero-extended by the 32-bit form
            _a.xor(ecx, ecx);
            _a.mov(__qword_ptr[rbp + GuestLayout.Left], rcx);
            _a.mov(__qword_ptr[rbp + GuestLayout.Right], rcx);
            _a.mov(__qword_ptr[rbp + GuestLayout.Materialized], r8);
        }
        _producer = new FlagProducer { Known = true, Op = FlagOp.MulResult, Size = size };
        return true;
    }

    private bool EmitImul(int k, in MicroOp op)
    {
        if (op.DestinationKind != MicroOperand.Register || op.Size < 2) return false;
        // Source in rcx, the other factor in rdx; the host's IMUL of the same size gives the same truncated product
        // and sets CF = OF exactly when it did not fit, the interpreter's definition.
        if (op.SourceKind == MicroOperand.Memory)
        {
            EffectiveAddress(in op);
            Probe(op.Size, write: false, k);
            LoadHost(Register.RCX, op.Size);
        }
        else if (op.SourceKind == MicroOperand.Register) LoadRegister(Register.RCX, op.Source, op.Size, op.SourceHigh);
        else return false;
        if (op.ThreeOperand) MovImmediate(rdx, op.Immediate);
        else LoadRegister(Register.RDX, op.Destination, op.Size, op.DestinationHigh);
        _a.Emit(BySize(op.Size, Code.Imul_r64_rm64, Code.Imul_r32_rm32, Code.Imul_r16_rm16, Code.Imul_r16_rm16), Sized(Register.RCX, op.Size), Sized(Register.RDX, op.Size));
        _a.seto(r8b);
        _a.movzx(r8d, r8b);
        _a.imul(r8d, r8d, (int)(LazyFlags.CF | LazyFlags.OF));
        Truncate(Register.RCX, op.Size);
        if (!FlagsDeadAfter(k))
        {
            StoreOpAndSize(FlagOp.MulResult, op.Size);
            _a.mov(__qword_ptr[rbp + GuestLayout.Result], rcx);
            _a.xor(eax, eax);
            _a.mov(__qword_ptr[rbp + GuestLayout.Left], rax);
            _a.mov(__qword_ptr[rbp + GuestLayout.Right], rax);
            _a.mov(__qword_ptr[rbp + GuestLayout.Materialized], r8);
        }
        _producer = new FlagProducer { Known = true, Op = FlagOp.MulResult, Size = op.Size };
        StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RCX);
        return true;
    }

    private bool EmitSetcc(int k, in MicroOp op)
    {
        EnsureProducer(k);
        if (!CanHostFlags(op.Condition)) return false;
        if (op.DestinationKind == MicroOperand.Memory)
        {
            // Probe first (it clobbers the host flags), then the condition.
            EffectiveAddress(in op);
            Probe(1, write: true, k);
            var inMemory = op.Condition;
            HostFlagsFor(ref inMemory);
            _a.AddInstruction(Instruction.Create(Setcc(inMemory), Register.AL));
            StoreHost(1, Register.RAX);
            return true;
        }
        if (op.DestinationKind != MicroOperand.Register) return false;
        var condition = op.Condition;
        HostFlagsFor(ref condition);
        _a.AddInstruction(Instruction.Create(Setcc(condition), Register.AL));
        StoreRegister(op.Destination, 1, op.DestinationHigh, Register.RAX);
        return true;
    }

    private bool EmitCmovcc(int k, in MicroOp op)
    {
        EnsureProducer(k);
        if (op.DestinationKind != MicroOperand.Register || op.Size < 2 || !CanHostFlags(op.Condition)) return false;
        // Source into r9 (read, and maybe faulting, whatever the condition), then the condition, then the choice.
        if (op.SourceKind == MicroOperand.Memory)
        {
            EffectiveAddress(in op);
            Probe(op.Size, write: false, k);
            LoadHost(Register.R9, op.Size);
        }
        else if (op.SourceKind == MicroOperand.Register) LoadRegister(Register.R9, op.Source, op.Size, op.SourceHigh);
        else return false;
        var condition = op.Condition;
        HostFlagsFor(ref condition);
        _a.AddInstruction(Instruction.Create(Setcc(condition), Register.R8L));
        LoadRegister(Register.RAX, op.Destination, op.Size, op.DestinationHigh);
        _a.test(r8b, r8b);
        _a.cmovne(rax, r9);
        StoreRegister(op.Destination, op.Size, op.DestinationHigh, Register.RAX);
        return true;
    }

    /// <summary>Whether <see cref="HostFlagsFor"/> would succeed, without emitting anything.</summary>
    private bool CanHostFlags(ConditionCode cc)
    {
        if (!_producer.Known) return false;
        var reads = Reads(cc);
        return _producer.Op switch
        {
            FlagOp.Add or FlagOp.Sub or FlagOp.Adc or FlagOp.Sbb or FlagOp.Logic => true,
            FlagOp.Inc or FlagOp.Dec => !reads.Carry,
            FlagOp.Shl or FlagOp.Shr or FlagOp.Sar => !reads.Overflow && _producer.Count < _producer.Size * 8,
            FlagOp.MulResult => !((reads.Zero || reads.Sign || reads.Parity) && (reads.Carry || reads.Overflow)),
            FlagOp.None => cc is not (ConditionCode.be or ConditionCode.a or ConditionCode.l or ConditionCode.ge or ConditionCode.le or ConditionCode.g),
            _ => false,
        };
    }

    /// <summary>PUSH/POP of a register, CALL rel32 and RET in 64-bit code (flat SS, 8-byte stack slots).</summary>
    private bool EmitStack(int k, in MicroOp op, ref bool ended)
    {
        if (!_code64 || op.Size != 8) return false;
        switch (op.Kind)
        {
            case MicroKind.Push:
                if (op.DestinationKind != MicroOperand.Register) return false;
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                _a.sub(rax, 8);
                Probe(8, write: true, k);
                LoadRegister(Register.RAX, op.Destination, 8, false);   // the value before RSP moves (PUSH RSP pushes the old one)
                StoreHost(8, Register.RAX);
                _a.sub(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                return true;
            case MicroKind.Pop:
                if (op.DestinationKind != MicroOperand.Register) return false;
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                Probe(8, write: false, k);
                LoadHost(Register.RAX, 8);
                _a.add(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                StoreRegister(op.Destination, 8, false, Register.RAX);   // POP RSP: the value read wins
                return true;
            case MicroKind.Call:
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                _a.sub(rax, 8);
                Probe(8, write: true, k);
                MovImmediate(rax, op.NextIp);
                StoreHost(8, Register.RAX);
                _a.sub(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                EndBlock(op.Target);
                ended = true;
                return true;
            case MicroKind.Ret:
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                Probe(8, write: false, k);
                LoadHost(Register.RAX, 8);
                _a.add(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                EndBlockAtRax();
                ended = true;
                return true;
            default:
                return false;
        }
    }
}
