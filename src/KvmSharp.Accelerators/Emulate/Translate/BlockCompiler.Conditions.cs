using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Accelerators.Emulate.Translate.HostCode;

namespace KvmSharp.Accelerators.Emulate.Translate;

// IMUL and the condition readers SETcc/CMOVcc (Jcc is in TryEmit), with what the host can redo of a producer.
internal sealed unsafe partial class BlockCompiler
{
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
}
