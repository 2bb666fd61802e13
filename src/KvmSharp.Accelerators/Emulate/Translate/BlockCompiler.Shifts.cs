using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Accelerators.Emulate.Translate.HostCode;

namespace KvmSharp.Accelerators.Emulate.Translate;

// Shift and rotate templates: SHL/SHR/SAR by an immediate or CL, ROL/ROR by an immediate.
internal sealed unsafe partial class BlockCompiler
{
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
}
