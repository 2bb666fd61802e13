using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Accelerators.Emulate.Translate.HostCode;

namespace KvmSharp.Accelerators.Emulate.Translate;

// Instructions without a micro-op form that still have a template: register NOT/NEG/BSWAP, CDQE/CDQ/CQO, MUL/DIV,
// prefetch hints and fences.
internal sealed unsafe partial class BlockCompiler
{
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
}
