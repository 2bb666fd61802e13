using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The dispatch from mnemonic to the handler of its group. An instruction that reaches the default case
// is not implemented: #UD for the guest, and a line for the user the first time (UnimplementedInstructions).
public sealed partial class Executor
{
    private StepResult Execute(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            // Data movement (Executor.Data.cs)
            // MOV SS / POP SS set the interrupt shadow: end the block so the run loop honours it, as after STI.
            case Mnemonic.Mov: Mov(in i); if (_interruptShadow) return StepResult.EndBlock; break;
            case Mnemonic.Movzx: WriteOperand(in i, 0, OperandSize(in i, 0), ReadOperand(in i, 1, OperandSize(in i, 1))); break;
            case Mnemonic.Movsx:
            case Mnemonic.Movsxd: Movsx(in i); break;
            case Mnemonic.Lea: Lea(in i); break;
            case Mnemonic.Xchg: Xchg(in i); break;
            case Mnemonic.Push: PushInstruction(in i); break;
            case Mnemonic.Pop: PopInstruction(in i); if (_interruptShadow) return StepResult.EndBlock; break;
            case Mnemonic.Pushf: case Mnemonic.Pushfd: case Mnemonic.Pushfq: Push(_cpu.Rflags & 0xFC_FFFF, OperandSizeOf(in i)); break;
            case Mnemonic.Popf: case Mnemonic.Popfd: case Mnemonic.Popfq: return Popf(in i);
            case Mnemonic.Lahf: RegisterFile.Write(_gpr, Register.AH, _cpu.Rflags & 0xD7 | 2); break;
            case Mnemonic.Sahf: _cpu.Flags.Store((_cpu.Flags.ToBits() & ~0xD5UL) | (RegisterFile.Read(_gpr, Register.AH) & 0xD5)); break;
            case Mnemonic.Cbw: case Mnemonic.Cwde: case Mnemonic.Cdqe: SignExtendAccumulator(in i); break;
            case Mnemonic.Cwd: case Mnemonic.Cdq: case Mnemonic.Cqo: SignExtendIntoDx(in i); break;
            case Mnemonic.Cmova: case Mnemonic.Cmovae: case Mnemonic.Cmovb: case Mnemonic.Cmovbe: case Mnemonic.Cmove:
            case Mnemonic.Cmovg: case Mnemonic.Cmovge: case Mnemonic.Cmovl: case Mnemonic.Cmovle: case Mnemonic.Cmovne:
            case Mnemonic.Cmovno: case Mnemonic.Cmovnp: case Mnemonic.Cmovns: case Mnemonic.Cmovo: case Mnemonic.Cmovp: case Mnemonic.Cmovs:
                Cmov(in i); break;
            case Mnemonic.Seta: case Mnemonic.Setae: case Mnemonic.Setb: case Mnemonic.Setbe: case Mnemonic.Sete:
            case Mnemonic.Setg: case Mnemonic.Setge: case Mnemonic.Setl: case Mnemonic.Setle: case Mnemonic.Setne:
            case Mnemonic.Setno: case Mnemonic.Setnp: case Mnemonic.Setns: case Mnemonic.Seto: case Mnemonic.Setp: case Mnemonic.Sets:
                WriteOperand(in i, 0, 1, Condition(i.ConditionCode) ? 1UL : 0); break;
            case Mnemonic.Bswap: Bswap(in i); break;
            case Mnemonic.Leave: Leave(in i); break;
            case Mnemonic.Nop: case Mnemonic.Pause: case Mnemonic.Lfence: case Mnemonic.Sfence: case Mnemonic.Mfence:
            case Mnemonic.Prefetchnta: case Mnemonic.Prefetcht0: case Mnemonic.Prefetcht1: case Mnemonic.Prefetcht2: case Mnemonic.Prefetchw:
            case Mnemonic.Endbr32: case Mnemonic.Endbr64: case Mnemonic.Wbinvd: case Mnemonic.Invd: case Mnemonic.Clflush:
                break;

            // Arithmetic and logic (Executor.Alu.cs)
            case Mnemonic.Add: Arithmetic(in i, FlagOp.Add); break;
            case Mnemonic.Adc: Arithmetic(in i, FlagOp.Adc); break;
            case Mnemonic.Sub: Arithmetic(in i, FlagOp.Sub); break;
            case Mnemonic.Sbb: Arithmetic(in i, FlagOp.Sbb); break;
            case Mnemonic.Cmp: Compare(in i); break;
            case Mnemonic.And: case Mnemonic.Or: case Mnemonic.Xor: case Mnemonic.Test: Logic(in i); break;
            case Mnemonic.Inc: IncDec(in i, FlagOp.Inc); break;
            case Mnemonic.Dec: IncDec(in i, FlagOp.Dec); break;
            case Mnemonic.Neg: Neg(in i); break;
            case Mnemonic.Not: { int s = OperandSize(in i, 0); WriteOperand(in i, 0, s, ~ReadOperand(in i, 0, s)); break; }
            case Mnemonic.Mul: Mul(in i); break;
            case Mnemonic.Imul: Imul(in i); break;
            case Mnemonic.Div: Div(in i, signed: false); break;
            case Mnemonic.Idiv: Div(in i, signed: true); break;
            case Mnemonic.Shl: case Mnemonic.Sal: case Mnemonic.Shr: case Mnemonic.Sar:
            case Mnemonic.Rol: case Mnemonic.Ror: case Mnemonic.Rcl: case Mnemonic.Rcr:
                Shift(in i); break;
            case Mnemonic.Shld: case Mnemonic.Shrd: DoubleShift(in i); break;
            case Mnemonic.Bt: case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc: BitTest(in i); break;
            case Mnemonic.Bsf: case Mnemonic.Bsr: case Mnemonic.Tzcnt: case Mnemonic.Lzcnt: case Mnemonic.Popcnt: BitScan(in i); break;
            case Mnemonic.Xadd: Xadd(in i); break;
            case Mnemonic.Cmpxchg: Cmpxchg(in i); break;
            case Mnemonic.Cmpxchg8b: case Mnemonic.Cmpxchg16b: CmpxchgWide(in i); break;

            // Control flow (Executor.Control.cs)
            case Mnemonic.Jmp: return Jump(in i);
            case Mnemonic.Ja: case Mnemonic.Jae: case Mnemonic.Jb: case Mnemonic.Jbe: case Mnemonic.Je:
            case Mnemonic.Jg: case Mnemonic.Jge: case Mnemonic.Jl: case Mnemonic.Jle: case Mnemonic.Jne:
            case Mnemonic.Jno: case Mnemonic.Jnp: case Mnemonic.Jns: case Mnemonic.Jo: case Mnemonic.Jp: case Mnemonic.Js:
                if (Condition(i.ConditionCode)) _nextRip = i.NearBranchTarget; break;
            case Mnemonic.Jcxz: case Mnemonic.Jecxz: case Mnemonic.Jrcxz:
                if ((_gpr[CpuState.Rcx] & Mask(i.Mnemonic == Mnemonic.Jcxz ? 2 : i.Mnemonic == Mnemonic.Jecxz ? 4 : 8)) == 0) _nextRip = i.NearBranchTarget; break;
            case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne: Loop(in i); break;
            case Mnemonic.Call: return Call(in i);
            case Mnemonic.Ret: Ret(in i); break;
            case Mnemonic.Hlt: RequirePrivilege(); return StepResult.Halt;

            // Flags and system (Executor.System.cs)
            case Mnemonic.Clc: SetCarry(false); break;
            case Mnemonic.Stc: SetCarry(true); break;
            case Mnemonic.Cmc: SetCarry(!_cpu.Flags.Carry); break;
            case Mnemonic.Cld: _cpu.SystemFlags &= ~CpuState.FlagDirection; break;
            case Mnemonic.Std: _cpu.SystemFlags |= CpuState.FlagDirection; break;
            case Mnemonic.Cli: RequireIoPrivilege(); _cpu.SystemFlags &= ~CpuState.FlagInterrupt; break;
            case Mnemonic.Sti:
                RequireIoPrivilege();
                _interruptShadow = !_cpu.Interruptible;   // only an STI that sets IF holds interrupts off (SDM vol 2 "STI")
                _cpu.SystemFlags |= CpuState.FlagInterrupt;
                return StepResult.EndBlock;
            case Mnemonic.Cpuid: Cpuid(); break;
            case Mnemonic.Rdtsc: Rdtsc(); break;
            case Mnemonic.Rdtscp: Rdtsc(); _gpr[CpuState.Rcx] = 0; break;

            // Port I/O (Executor.Io.cs)
            case Mnemonic.In: return PortIn(in i);
            case Mnemonic.Out: return PortOut(in i);

            default:
                return ExecuteSystemOrString(in i);
        }
        return StepResult.Continue;
    }

    /// <summary>The operand size of an instruction with no explicit operand (PUSHF, POPF, IRET): 2, 4 or 8.</summary>
    private static int OperandSizeOf(in Instruction i) => i.Code switch
    {
        Code.Pushfq or Code.Popfq or Code.Iretq => 8,
        Code.Pushfd or Code.Popfd or Code.Iretd => 4,
        _ => 2,
    };
}
