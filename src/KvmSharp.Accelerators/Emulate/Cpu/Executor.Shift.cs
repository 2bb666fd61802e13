using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Shifts, rotates and bit tests (SDM vol 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD", "BT").
public sealed partial class Executor
{
    private void Shift(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong value = ReadOperand(in i, 0, size);
        int count = (int)((i.OpCount > 1 ? ReadOperand(in i, 1, 1) : 1) & (size == 8 ? 0x3FUL : 0x1FUL));
        if (count == 0)
        {
            // No flags change, but a 32-bit register destination is still written, so its upper half is
            // cleared (SDM vol 1 §3.4.1.1), as hardware and QEMU do.
            ZeroExtendUnchanged(in i, size);
            return;
        }
        WriteOperand(in i, 0, size, ShiftValue(i.Mnemonic, size, value, count));
    }

    /// <summary>A shift or rotate of <paramref name="value"/> by a masked, non-zero <paramref name="count"/>: the result, with the flags recorded.</summary>
    private ulong ShiftValue(Mnemonic mnemonic, int size, ulong value, int count)
    {
        int bits = size * 8;
        ulong mask = Mask(size), sign = 1UL << (bits - 1);
        ulong result;
        bool carry, overflow;
        switch (mnemonic)
        {
            // Shifts record their operand and count; CF and OF are computed only when read (LazyFlags).
            case Mnemonic.Shl:
            case Mnemonic.Sal:
                result = count >= 64 ? 0 : (value << count) & mask;
                _cpu.Flags.Set(FlagOp.Shl, size, result, value, (ulong)count);
                return result;
            case Mnemonic.Shr:
                result = count >= 64 ? 0 : value >> count;
                _cpu.Flags.Set(FlagOp.Shr, size, result, value, (ulong)count);
                return result;
            case Mnemonic.Sar:
                result = (ulong)((long)SignExtend(value, size) >> Math.Min(count, 63)) & mask;
                _cpu.Flags.Set(FlagOp.Sar, size, result, value, (ulong)count);
                return result;
            case Mnemonic.Rol:
            {
                int n = count % bits;
                result = n == 0 ? value : ((value << n) | (value >> (bits - n))) & mask;
                carry = (result & 1) != 0;
                overflow = ((result & sign) != 0) ^ carry;
                SetRotateFlags(carry, overflow);
                return result;
            }
            case Mnemonic.Ror:
            {
                int n = count % bits;
                result = n == 0 ? value : ((value >> n) | (value << (bits - n))) & mask;
                carry = (result & sign) != 0;
                overflow = (((result >> (bits - 1)) ^ (result >> (bits - 2))) & 1) != 0;
                SetRotateFlags(carry, overflow);
                return result;
            }
            default: // RCL, RCR: rotate through CF, (bits + 1)-bit rotation
            {
                int n = count % (bits + 1);
                UInt128 wide = ((UInt128)(_cpu.Flags.Carry ? 1UL : 0) << bits) | value;
                UInt128 full = ((UInt128)1 << (bits + 1)) - 1;
                UInt128 rotated = mnemonic == Mnemonic.Rcl
                    ? ((wide << n) | (wide >> (bits + 1 - n))) & full
                    : ((wide >> n) | (wide << (bits + 1 - n))) & full;
                if (n == 0) rotated = wide;
                result = (ulong)(rotated & mask);
                carry = ((rotated >> bits) & 1) != 0;
                overflow = mnemonic == Mnemonic.Rcl
                    ? ((result & sign) != 0) ^ carry
                    : (((result >> (bits - 1)) ^ (result >> (bits - 2))) & 1) != 0;
                SetRotateFlags(carry, overflow);
                return result;
            }
        }
    }

    /// <summary>A 32-bit register operand written with its own value: clears bits 63:32 (count-0 shifts, false CMOV).</summary>
    private void ZeroExtendUnchanged(in Instruction i, int size)
    {
        if (size == 4 && i.Op0Kind == OpKind.Register) WriteOperand(in i, 0, 4, ReadOperand(in i, 0, 4));
    }

    /// <summary>Rotates change only CF and OF (SDM "RCL/RCR/ROL/ROR": SF, ZF, AF, PF unaffected).</summary>
    private void SetRotateFlags(bool carry, bool overflow)
    {
        ulong flags = _cpu.Flags.ToBits() & ~(LazyFlags.CF | LazyFlags.OF);
        _cpu.Flags.Store(flags | (carry ? LazyFlags.CF : 0) | (overflow ? LazyFlags.OF : 0));
    }

    private void DoubleShift(in Instruction i)
    {
        int size = OperandSize(in i, 0), bits = size * 8;
        ulong destination = ReadOperand(in i, 0, size), source = ReadOperand(in i, 1, size);
        int count = (int)((i.Op2Kind == OpKind.Register ? _gpr[CpuState.Rcx] : i.GetImmediate(2)) & (size == 8 ? 0x3FUL : 0x1FUL));
        if (count == 0)
        {
            ZeroExtendUnchanged(in i, size);
            return;
        }
        if (count > bits) count %= bits;   // undefined result for 16-bit operands with count > 16; this matches common CPUs closely enough
        ulong mask = Mask(size), sign = 1UL << (bits - 1);
        ulong result;
        bool carry;
        if (i.Mnemonic == Mnemonic.Shld)
        {
            UInt128 joined = ((UInt128)destination << bits) | source;
            result = (ulong)((joined << count) >> bits) & mask;
            carry = ((destination >> (bits - count)) & 1) != 0;
        }
        else
        {
            UInt128 joined = ((UInt128)source << bits) | destination;
            result = (ulong)(joined >> count) & mask;
            carry = ((destination >> (count - 1)) & 1) != 0;
        }
        WriteOperand(in i, 0, size, result);
        _cpu.Flags.Set(FlagOp.ShiftResult, size, result, destination, (ulong)count);
        bool overflow = ((result ^ destination) & sign) != 0;
        _cpu.Flags.Materialized = (carry ? LazyFlags.CF : 0) | (overflow ? LazyFlags.OF : 0);
    }

    private void BitTest(in Instruction i)
    {
        int size = OperandSize(in i, 0), bits = size * 8;
        long offset = i.Op1Kind == OpKind.Register ? (long)SignExtend(ReadOperand(in i, 1, size), size) : (long)(i.GetImmediate(1) & (ulong)(bits - 1));
        ulong linear = 0;
        ulong value;
        int bit;
        if (i.Op0Kind == OpKind.Memory && i.Op1Kind == OpKind.Register)
        {
            // A register bit offset addresses memory beyond the operand (SDM "BT": bit string).
            long byteOffset = (offset >> 3) & ~(long)(size - 1);
            linear = MemoryLinear(in i) + (ulong)byteOffset;
            value = _mmu.Read(linear, size);
            bit = (int)(offset & (bits - 1));
        }
        else
        {
            value = ReadOperand(in i, 0, size);
            bit = (int)(offset & (bits - 1));
        }
        bool set = ((value >> bit) & 1) != 0;
        ulong updated = i.Mnemonic switch
        {
            Mnemonic.Bts => value | (1UL << bit),
            Mnemonic.Btr => value & ~(1UL << bit),
            Mnemonic.Btc => value ^ (1UL << bit),
            _ => value,
        };
        if (i.Mnemonic != Mnemonic.Bt)
        {
            if (linear != 0 || (i.Op0Kind == OpKind.Memory && i.Op1Kind == OpKind.Register)) _mmu.Write(linear, size, updated);
            else WriteOperand(in i, 0, size, updated);
        }
        SetCarry(set);
    }
}
