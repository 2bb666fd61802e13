using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Accelerators.Emulate.Translate.HostCode;

namespace KvmSharp.Accelerators.Emulate.Translate;

// Flags: translated code stores the same LazyFlags record the interpreter would (operation, size, result,
// operands), so either tier reads them. A condition (Jcc, SETcc, CMOVcc, ADC/SBB's carry) whose producer is an
// earlier instruction of the same block is evaluated by redoing that producer's operation on the host from the
// record: x86 on x86, the host's flags are the guest's for the flags the condition reads. Anything else (the
// producer ran in another block, or its flags are not the host's: IMUL, OF after multi-bit shifts, CF after
// INC/DEC) leaves for the interpreter.
internal sealed unsafe partial class BlockCompiler
{
    /// <summary>Stores Op and Size (adjacent bytes) in one write.</summary>
    private void StoreOpAndSize(FlagOp op, int size) =>
        _a.mov(__word_ptr[rbp + GuestLayout.FlagsOp], (short)(((size & 0xFF) << 8) | (byte)op));

    /// <summary>LazyFlags.Set(op, size, result, left, right) from host registers.</summary>
    private void RecordFlags(FlagOp op, int size, Register result, Register left, Register right)
    {
        if (FlagsDeadAfter(_k))
        {
            _producer = new FlagProducer { Known = true, Op = op, Size = size };
            return;
        }
        StoreOpAndSize(op, size);
        _a.Emit(Code.Mov_rm64_r64, HotField(GuestLayout.Result), result);
        _a.Emit(Code.Mov_rm64_r64, HotField(GuestLayout.Left), left);
        _a.Emit(Code.Mov_rm64_r64, HotField(GuestLayout.Right), right);
        _producer = new FlagProducer { Known = true, Op = op, Size = size };
    }

    /// <summary>LazyFlags.SetIncDec: the record of the last CF producer moves to CarryOp/CarrySize unless it already was an INC/DEC.</summary>
    private void RecordIncDec(FlagOp op, int size, Register result)
    {
        if (FlagsDeadAfter(_k))
        {
            _producer = new FlagProducer { Known = true, Op = op, Size = size };
            return;
        }
        if (_producer.Known)
        {
            if (_producer.Op is not (FlagOp.Inc or FlagOp.Dec))
                _a.mov(__word_ptr[rbp + GuestLayout.CarryOp], (short)(((_producer.Size & 0xFF) << 8) | (byte)_producer.Op));
        }
        else
        {
            var keep = _a.CreateLabel();
            _a.movzx(edx, __byte_ptr[rbp + GuestLayout.FlagsOp]);
            _a.cmp(dl, (int)FlagOp.Inc);
            _a.je(keep);
            _a.cmp(dl, (int)FlagOp.Dec);
            _a.je(keep);
            _a.movzx(edx, __word_ptr[rbp + GuestLayout.FlagsOp]);   // Op and Size → CarryOp and CarrySize
            _a.mov(__word_ptr[rbp + GuestLayout.CarryOp], dx);
            _a.Label(ref keep);
        }
        StoreOpAndSize(op, size);
        _a.Emit(Code.Mov_rm64_r64, HotField(GuestLayout.Result), result);
        _producer = new FlagProducer { Known = true, Op = op, Size = size };
    }

    /// <summary>
    /// Before instruction <paramref name="k"/> reads flags no earlier instruction of this block produced: when the
    /// record's kind as the block is translated (<see cref="_entryFlags"/>; a block is translated just before it runs,
    /// and a block usually follows the same producer every time) is one the host can redo, a guard that the record
    /// still is of that kind and size leaves for the interpreter otherwise, and the producer counts as known.
    /// </summary>
    private void EnsureProducer(int k)
    {
        if (_producer.Known || _entryFlags is not { } entry) return;
        _entryFlags = null;
        if (entry.Op is not (FlagOp.Add or FlagOp.Sub or FlagOp.Adc or FlagOp.Sbb or FlagOp.Logic or FlagOp.Inc or FlagOp.Dec or FlagOp.MulResult or FlagOp.None))
            return;
        _a.cmp(__word_ptr[rbp + GuestLayout.FlagsOp], (short)((entry.Size << 8) | (byte)entry.Op));
        _a.jne(Exit(k));
        _producer = new FlagProducer { Known = true, Op = entry.Op, Size = entry.Size };
    }

    /// <summary>
    /// Sets the host's flags to the guest's for what <paramref name="cc"/> reads (clobbers rax, rcx); false when the
    /// flags are not known here, and nothing was emitted.
    /// </summary>
    private bool HostFlagsFor(ref ConditionCode cc)
    {
        var reads = Reads(cc);
        if (_producer.Known && _producer.Op == FlagOp.MulResult)
        {
            // IMUL: CF = OF, both kept in Materialized; ZF/SF/PF follow the result. A condition on one kind only.
            if (reads.Zero || reads.Sign || reads.Parity)
            {
                if (reads.Carry || reads.Overflow) return false;
                _a.mov(rax, __qword_ptr[rbp + GuestLayout.Result]);
                int size = _producer.Size;
                _a.Emit(BySize(size, Code.Test_rm64_r64, Code.Test_rm32_r32, Code.Test_rm16_r16, Code.Test_rm8_r8), Sized(Register.RAX, size), Sized(Register.RAX, size));
                return true;
            }
            _a.bt(__dword_ptr[rbp + GuestLayout.Materialized], 0);   // CF (= OF) into the host's CF
            cc = cc is ConditionCode.o or ConditionCode.b ? ConditionCode.b : ConditionCode.ae;
            return true;
        }
        if (_producer.Known && _producer.Op == FlagOp.None)
        {
            // Explicit bits: a condition on one flag tests its bit (CF = the bit, then "below" or "above or equal").
            ulong bit = cc switch
            {
                ConditionCode.o or ConditionCode.no => LazyFlags.OF,
                ConditionCode.b or ConditionCode.ae => LazyFlags.CF,
                ConditionCode.e or ConditionCode.ne => LazyFlags.ZF,
                ConditionCode.s or ConditionCode.ns => LazyFlags.SF,
                ConditionCode.p or ConditionCode.np => LazyFlags.PF,
                _ => 0,
            };
            if (bit == 0) return false;
            _a.bt(__dword_ptr[rbp + GuestLayout.Materialized], (byte)System.Numerics.BitOperations.TrailingZeroCount(bit));
            cc = cc is ConditionCode.o or ConditionCode.b or ConditionCode.e or ConditionCode.s or ConditionCode.p ? ConditionCode.b : ConditionCode.ae;
            return true;
        }
        return HostFlags(reads.Carry, reads.Overflow);
    }

    private bool HostFlags(bool carry, bool overflow)
    {
        if (!_producer.Known) return false;
        int size = _producer.Size;
        Register ax = Sized(Register.RAX, size), cx = Sized(Register.RCX, size);
        switch (_producer.Op)
        {
            case FlagOp.Add or FlagOp.Sub or FlagOp.Adc or FlagOp.Sbb:
                _a.mov(rax, __qword_ptr[rbp + GuestLayout.Left]);
                _a.mov(rcx, __qword_ptr[rbp + GuestLayout.Right]);
                switch (_producer.Op)
                {
                    case FlagOp.Add: _a.Emit(BySize(size, Code.Add_rm64_r64, Code.Add_rm32_r32, Code.Add_rm16_r16, Code.Add_rm8_r8), ax, cx); break;
                    case FlagOp.Sub: _a.Emit(BySize(size, Code.Cmp_rm64_r64, Code.Cmp_rm32_r32, Code.Cmp_rm16_r16, Code.Cmp_rm8_r8), ax, cx); break;
                    case FlagOp.Adc:
                        _a.bt(__dword_ptr[rbp + GuestLayout.Materialized], 0);   // the carry-in the record kept
                        _a.Emit(BySize(size, Code.Adc_rm64_r64, Code.Adc_rm32_r32, Code.Adc_rm16_r16, Code.Adc_rm8_r8), ax, cx);
                        break;
                    default:
                        _a.bt(__dword_ptr[rbp + GuestLayout.Materialized], 0);
                        _a.Emit(BySize(size, Code.Sbb_rm64_r64, Code.Sbb_rm32_r32, Code.Sbb_rm16_r16, Code.Sbb_rm8_r8), ax, cx);
                        break;
                }
                return true;
            case FlagOp.Logic:
                _a.mov(rax, __qword_ptr[rbp + GuestLayout.Result]);
                _a.Emit(BySize(size, Code.Test_rm64_r64, Code.Test_rm32_r32, Code.Test_rm16_r16, Code.Test_rm8_r8), ax, ax);
                return true;
            case FlagOp.Inc or FlagOp.Dec:
                if (carry) return false;   // CF is the earlier producer's
                _a.mov(rax, __qword_ptr[rbp + GuestLayout.Result]);
                if (_producer.Op == FlagOp.Inc)
                {
                    _a.sub(rax, 1);
                    _a.Emit(BySize(size, Code.Inc_rm64, Code.Inc_rm32, Code.Inc_rm16, Code.Inc_rm8), ax);
                }
                else
                {
                    _a.add(rax, 1);
                    _a.Emit(BySize(size, Code.Dec_rm64, Code.Dec_rm32, Code.Dec_rm16, Code.Dec_rm8), ax);
                }
                return true;
            case FlagOp.Shl or FlagOp.Shr or FlagOp.Sar:
                // The host's OF after a shift by more than one is undefined, and its CF for 8/16-bit shifts by the width or more.
                if (overflow || _producer.Count >= size * 8) return false;
                _a.mov(rax, __qword_ptr[rbp + GuestLayout.Left]);
                var code = _producer.Op switch
                {
                    FlagOp.Shl => BySize(size, Code.Shl_rm64_imm8, Code.Shl_rm32_imm8, Code.Shl_rm16_imm8, Code.Shl_rm8_imm8),
                    FlagOp.Shr => BySize(size, Code.Shr_rm64_imm8, Code.Shr_rm32_imm8, Code.Shr_rm16_imm8, Code.Shr_rm8_imm8),
                    _ => BySize(size, Code.Sar_rm64_imm8, Code.Sar_rm32_imm8, Code.Sar_rm16_imm8, Code.Sar_rm8_imm8),
                };
                _a.Emit(code, ax, _producer.Count);
                return true;
            default:
                return false;
        }
    }
}
