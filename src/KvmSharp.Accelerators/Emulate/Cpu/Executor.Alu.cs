using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Integer arithmetic and logic with exact flags (SDM vol 1 §7.3.2–7.3.7, and each instruction's page in vol 2).
public sealed partial class Executor
{
    private void Arithmetic(in Instruction i, FlagOp op)
    {
        int size = OperandSize(in i, 0);
        ulong left = ReadOperand(in i, 0, size);
        ulong right = i.Op1Kind is OpKind.Register or OpKind.Memory ? ReadOperand(in i, 1, size) : i.GetImmediate(1) & Mask(size);
        WriteOperand(in i, 0, size, ArithmeticValue(op, size, left, right));
    }

    /// <summary>ADD, ADC, SUB, SBB (and CMP, which is SUB without the write) on operand values: the result, with the flags recorded.</summary>
    private ulong ArithmeticValue(FlagOp op, int size, ulong left, ulong right)
    {
        ulong carryIn = (op is FlagOp.Adc or FlagOp.Sbb) && _cpu.Flags.Carry ? 1UL : 0;
        ulong result = (op is FlagOp.Add or FlagOp.Adc ? left + right + carryIn : left - right - carryIn) & Mask(size);
        _cpu.Flags.Materialized = carryIn != 0 ? LazyFlags.CF : 0;
        _cpu.Flags.Set(op, size, result, left, right);
        return result;
    }

    private void Compare(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong left = ReadOperand(in i, 0, size);
        ulong right = i.Op1Kind is OpKind.Register or OpKind.Memory ? ReadOperand(in i, 1, size) : i.GetImmediate(1) & Mask(size);
        ArithmeticValue(FlagOp.Sub, size, left, right);
    }

    /// <summary>AND, OR, XOR, TEST: CF and OF cleared, SF/ZF/PF from the result, AF undefined (SDM "AND").</summary>
    private void Logic(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong left = ReadOperand(in i, 0, size);
        ulong right = i.Op1Kind is OpKind.Register or OpKind.Memory ? ReadOperand(in i, 1, size) : i.GetImmediate(1) & Mask(size);
        var mnemonic = i.Mnemonic;
        var kind = mnemonic == Mnemonic.Or ? LogicKind.Or : mnemonic == Mnemonic.Xor ? LogicKind.Xor : LogicKind.And;
        ulong result = LogicValue(kind, size, left, right);
        if (mnemonic != Mnemonic.Test) WriteOperand(in i, 0, size, result);
    }

    /// <summary>The value of AND/OR/XOR (TEST is AND without the write), with the flags recorded.</summary>
    private ulong LogicValue(LogicKind kind, int size, ulong left, ulong right)
    {
        ulong result = (kind == LogicKind.Or ? left | right : kind == LogicKind.Xor ? left ^ right : left & right) & Mask(size);
        _cpu.Flags.Set(FlagOp.Logic, size, result, left, right);
        return result;
    }

    private void IncDec(in Instruction i, FlagOp op)
    {
        int size = OperandSize(in i, 0);
        WriteOperand(in i, 0, size, IncDecValue(op, size, ReadOperand(in i, 0, size)));
    }

    /// <summary>INC/DEC on a value: the result, with the flags recorded (CF is kept, SDM "INC").</summary>
    private ulong IncDecValue(FlagOp op, int size, ulong value)
    {
        ulong result = (op == FlagOp.Inc ? value + 1 : value - 1) & Mask(size);
        _cpu.Flags.SetIncDec(op, size, result);
        return result;
    }

    private void Neg(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong value = ReadOperand(in i, 0, size);
        ulong result = (0 - value) & Mask(size);
        WriteOperand(in i, 0, size, result);
        _cpu.Flags.Set(FlagOp.Neg, size, result, 0, value);
    }

    private void SetMulFlags(int size, ulong lowResult, bool overflow)
    {
        _cpu.Flags.Set(FlagOp.MulResult, size, lowResult & Mask(size), 0, 0);
        _cpu.Flags.Materialized = overflow ? LazyFlags.CF | LazyFlags.OF : 0;
    }

    private void Mul(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong source = ReadOperand(in i, 0, size), accumulator = _gpr[0] & Mask(size);
        ulong high = Math.BigMul(accumulator, source, out ulong low);
        if (size < 8) { high = low >> (size * 8); low &= Mask(size); high &= Mask(size); }
        WriteDoubleResult(size, low, high);
        SetMulFlags(size, low, high != 0);
    }

    private void Imul(in Instruction i)
    {
        if (i.OpCount == 1)
        {
            int size = OperandSize(in i, 0);
            long a = (long)SignExtend(_gpr[0] & Mask(size), size), b = (long)SignExtend(ReadOperand(in i, 0, size), size);
            long high = Math.BigMul(a, b, out long low);
            ulong lowPart, highPart;
            bool overflow;
            if (size < 8)
            {
                long product = a * b;
                lowPart = (ulong)product & Mask(size);
                highPart = ((ulong)product >> (size * 8)) & Mask(size);
                overflow = product != (long)SignExtend((ulong)product & Mask(size), size);
            }
            else
            {
                lowPart = (ulong)low;
                highPart = (ulong)high;
                overflow = high != (low < 0 ? -1 : 0);
            }
            WriteDoubleResult(size, lowPart, highPart);
            SetMulFlags(size, lowPart, overflow);
            return;
        }
        int s = OperandSize(in i, 0);
        long x = (long)SignExtend(ReadOperand(in i, i.OpCount == 3 ? 1 : 0, s), s);
        long y = i.OpCount == 3 ? (long)SignExtend(i.GetImmediate(2) & Mask(s), s) : (long)SignExtend(ReadOperand(in i, 1, s), s);
        WriteOperand(in i, 0, s, ImulValue(s, x, y));
    }

    /// <summary>The truncated product of the two- and three-operand IMUL, with CF=OF set when it did not fit (SDM "IMUL").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ImulValue(int size, long x, long y)
    {
        // Operands of at most 32 significant bits: the 64-bit product is exact (no 128-bit multiply, which
        // NativeAOT's baseline ISA does in software).
        ulong truncated;
        bool overflow;
        if (size < 8 || (x == (int)x && y == (int)y))
        {
            long product = x * y;
            truncated = (ulong)product & Mask(size);
            overflow = product != (long)SignExtend(truncated, size);
        }
        else
        {
            long high = Math.BigMul(x, y, out long low);
            truncated = (ulong)low;
            overflow = high != (low < 0 ? -1 : 0);
        }
        SetMulFlags(size, truncated, overflow);
        return truncated;
    }

    /// <summary>MUL/IMUL one-operand results: AX for bytes, else rDX:rAX.</summary>
    private void WriteDoubleResult(int size, ulong low, ulong high)
    {
        if (size == 1) { RegisterFile.Write(_gpr, Register.AX, (high << 8) | low); return; }
        var (a, d) = size switch { 2 => (Register.AX, Register.DX), 4 => (Register.EAX, Register.EDX), _ => (Register.RAX, Register.RDX) };
        RegisterFile.Write(_gpr, a, low);
        RegisterFile.Write(_gpr, d, high);
    }

    private void Div(in Instruction i, bool signed)
    {
        int size = OperandSize(in i, 0);
        ulong divisor = ReadOperand(in i, 0, size);
        if (divisor == 0) throw new CpuException(ExceptionVector.DivideError);
        UInt128 dividend = size == 1 ? _gpr[0] & 0xFFFF : ((UInt128)(_gpr[2] & Mask(size)) << (size * 8)) | (_gpr[0] & Mask(size));
        ulong quotient, remainder;
        if (!signed)
        {
            UInt128 q = dividend / divisor;
            if (q > Mask(size)) throw new CpuException(ExceptionVector.DivideError);
            quotient = (ulong)q;
            remainder = (ulong)(dividend % divisor);
        }
        else
        {
            int bits = size * 16;
            Int128 sd = (Int128)(dividend << (128 - bits)) >> (128 - bits);
            Int128 sv = (long)SignExtend(divisor, size);
            Int128 q = sd / sv;
            Int128 limit = (Int128)1 << (size * 8 - 1);
            if (q >= limit || q < -limit) throw new CpuException(ExceptionVector.DivideError);
            quotient = (ulong)(long)q & Mask(size);
            remainder = (ulong)(long)(sd % sv) & Mask(size);
        }
        if (size == 1)
            RegisterFile.Write(_gpr, Register.AX, (remainder << 8) | quotient);
        else
            WriteDoubleResult(size, quotient, remainder);
    }

    private void BitScan(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong value = ReadOperand(in i, 1, size);
        int bits = size * 8;
        switch (i.Mnemonic)
        {
            case Mnemonic.Bsf:
            case Mnemonic.Bsr:
                if (value == 0)
                {
                    // The SDM leaves the destination undefined; hardware keeps its value but, for a 32-bit
                    // register, still writes it and so clears bits 63:32 (Intel's architects, as quoted in
                    // Linux's ffs(); AMD APM "BSF"), as QEMU does.
                    ZeroExtendUnchanged(in i, size);
                    _cpu.Flags.Store(_cpu.Flags.ToBits() | LazyFlags.ZF);
                    return;
                }
                ulong index = i.Mnemonic == Mnemonic.Bsf ? (ulong)BitOperations.TrailingZeroCount(value) : (ulong)(63 - BitOperations.LeadingZeroCount(value));
                WriteOperand(in i, 0, size, index);
                _cpu.Flags.Store(_cpu.Flags.ToBits() & ~LazyFlags.ZF);
                return;
            case Mnemonic.Tzcnt:
            case Mnemonic.Lzcnt:
            {
                ulong count = i.Mnemonic == Mnemonic.Tzcnt
                    ? (value == 0 ? (ulong)bits : (ulong)BitOperations.TrailingZeroCount(value))
                    : (ulong)(BitOperations.LeadingZeroCount(value) - (64 - bits));
                WriteOperand(in i, 0, size, count);
                ulong flags = _cpu.Flags.ToBits() & ~(LazyFlags.CF | LazyFlags.ZF);
                _cpu.Flags.Store(flags | (value == 0 ? LazyFlags.CF : 0) | (count == 0 ? LazyFlags.ZF : 0));
                return;
            }
            default: // POPCNT: ZF if the source is zero, other arithmetic flags cleared
                WriteOperand(in i, 0, size, (ulong)BitOperations.PopCount(value));
                _cpu.Flags.Store(value == 0 ? LazyFlags.ZF : 0);
                return;
        }
    }

    private void Xadd(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong destination = ReadOperand(in i, 0, size), source = ReadOperand(in i, 1, size);
        ulong sum = (destination + source) & Mask(size);
        // SDM "XADD": SRC ← DEST, then DEST ← SUM, so XADD r, r with one register leaves the sum. A memory
        // destination is written first so that a fault leaves the register as it was.
        if (i.Op0Kind == OpKind.Memory)
        {
            WriteOperand(in i, 0, size, sum);
            WriteOperand(in i, 1, size, destination);
        }
        else
        {
            WriteOperand(in i, 1, size, destination);
            WriteOperand(in i, 0, size, sum);
        }
        _cpu.Flags.Set(FlagOp.Add, size, sum, destination, source);
    }

    private void Cmpxchg(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong destination = ReadOperand(in i, 0, size), accumulator = _gpr[0] & Mask(size);
        _cpu.Flags.Set(FlagOp.Sub, size, (accumulator - destination) & Mask(size), accumulator, destination);
        // SDM "CMPXCHG": the accumulator is written only when the comparison fails (so a 32-bit one keeps
        // bits 63:32 on success). A memory destination always gets a write cycle; a register destination
        // is left alone on failure, not even zero-extended (as QEMU since 8.1 and hardware).
        if (accumulator == destination) WriteOperand(in i, 0, size, ReadOperand(in i, 1, size));
        else
        {
            if (i.Op0Kind == OpKind.Memory) WriteOperand(in i, 0, size, destination);
            RegisterFile.Write(_gpr, size switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX }, destination);
        }
    }

    private void CmpxchgWide(in Instruction i)
    {
        bool wide = i.Mnemonic == Mnemonic.Cmpxchg16b;
        int half = wide ? 8 : 4;
        ulong address = MemoryLinear(in i);
        if (wide && (address & 15) != 0) throw CpuException.GeneralProtection();
        ulong expectLow = _gpr[0] & Mask(half), expectHigh = _gpr[2] & Mask(half);
        ulong flags = _cpu.Flags.ToBits() & ~LazyFlags.ZF;
        if (!wide && _mmu.InLockedInstruction
            && _mmu.CompareExchange8(address, (expectHigh << 32) | expectLow, ((_gpr[1] & 0xFFFF_FFFF) << 32) | (_gpr[3] & 0xFFFF_FFFF)) is { } found)
        {
            // LOCK CMPXCHG8B on aligned RAM: one host compare-and-swap, atomic against plain stores too.
            bool equal = found == ((expectHigh << 32) | expectLow);
            if (!equal)
            {
                RegisterFile.Write(_gpr, Register.EAX, found & 0xFFFF_FFFF);
                RegisterFile.Write(_gpr, Register.EDX, found >> 32);
            }
            _cpu.Flags.Store(equal ? flags | LazyFlags.ZF : flags);
            return;
        }
        ulong low = _mmu.Read(address, half), high = _mmu.Read(address + (ulong)half, half);
        if (low == expectLow && high == expectHigh)
        {
            _mmu.Write(address, half, _gpr[3] & Mask(half));
            _mmu.Write(address + (ulong)half, half, _gpr[1] & Mask(half));
            _cpu.Flags.Store(flags | LazyFlags.ZF);
        }
        else
        {
            _mmu.Write(address, half, low);
            _mmu.Write(address + (ulong)half, half, high);
            RegisterFile.Write(_gpr, wide ? Register.RAX : Register.EAX, low);
            RegisterFile.Write(_gpr, wide ? Register.RDX : Register.EDX, high);
            _cpu.Flags.Store(flags);
        }
    }
}
