using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// SSE/SSE2 (SDM vol 1 chapters 10–11): the 128-bit moves, integer and logical operations, and the
// scalar double-precision arithmetic that compilers emit for plain C. Values are computed with .NET's
// Vector128 and double, which follow IEEE 754 as SSE does (default rounding; MXCSR rounding modes and
// exception flags are not modelled yet).
public sealed partial class Executor
{
    /// <summary>SSE needs CR4.OSFXSR and CR0.EM clear (#UD), and raises #NM while CR0.TS is set (SDM vol 3 §13.1.3).</summary>
    private void RequireSse()
    {
        if ((_cpu.Cr4 & (1 << 9)) == 0 || (_cpu.Cr0 & 4) != 0) throw CpuException.InvalidOpcode();
        if ((_cpu.Cr0 & 8) != 0) throw new CpuException(ExceptionVector.DeviceNotAvailable);
    }

    private static bool IsXmm(Register register) => register >= Register.XMM0 && register <= Register.XMM15;

    private Vector128<ulong> ReadXmm(Register register)
    {
        int n = register - Register.XMM0;
        return Vector128.Create(_cpu.Xmm[2 * n], _cpu.Xmm[2 * n + 1]);
    }

    private void WriteXmm(Register register, Vector128<ulong> value)
    {
        int n = register - Register.XMM0;
        _cpu.Xmm[2 * n] = value.GetElement(0);
        _cpu.Xmm[2 * n + 1] = value.GetElement(1);
    }

    /// <summary>A 128-bit register or memory operand; <paramref name="aligned"/> memory must be 16-byte aligned (#GP).</summary>
    private Vector128<ulong> ReadVector(in Instruction i, int op, bool aligned = false)
    {
        if (i.GetOpKind(op) == OpKind.Register) return ReadXmm(i.GetOpRegister(op));
        ulong address = MemoryLinear(in i);
        if (aligned && (address & 15) != 0) throw CpuException.GeneralProtection();
        int size = i.MemorySize.GetSize();
        ulong low = _mmu.Read(address, Math.Min(size, 8));
        ulong high = size > 8 ? _mmu.Read(address + 8, 8) : 0;
        return Vector128.Create(low, high);
    }

    private void WriteVectorMemory(in Instruction i, Vector128<ulong> value, int size, bool aligned = false)
    {
        ulong address = MemoryLinear(in i);
        if (aligned && (address & 15) != 0) throw CpuException.GeneralProtection();
        if (size > 8) _mmu.Translate(address + 8, AccessKind.Write);
        _mmu.Write(address, Math.Min(size, 8), value.GetElement(0));
        if (size > 8) _mmu.Write(address + 8, 8, value.GetElement(1));
    }

    /// <summary>Executes an SSE/SSE2 instruction; false when the mnemonic is not one of them.</summary>
    private bool TryExecuteSse(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Movdqa: case Mnemonic.Movaps: case Mnemonic.Movapd: MoveVector(in i, aligned: true); return true;
            case Mnemonic.Movdqu: case Mnemonic.Movups: case Mnemonic.Movupd: MoveVector(in i, aligned: false); return true;
            case Mnemonic.Movd: case Mnemonic.Movq: MoveScalarInteger(in i); return true;
            case Mnemonic.Movsd when i.Op0Kind == OpKind.Register || i.Op1Kind == OpKind.Register: MoveScalarFloat(in i, 8); return true;
            case Mnemonic.Movss: MoveScalarFloat(in i, 4); return true;
            case Mnemonic.Pxor: case Mnemonic.Xorps: case Mnemonic.Xorpd: Binary(in i, static (a, b) => a ^ b); return true;
            case Mnemonic.Por: case Mnemonic.Orps: case Mnemonic.Orpd: Binary(in i, static (a, b) => a | b); return true;
            case Mnemonic.Pand: case Mnemonic.Andps: case Mnemonic.Andpd: Binary(in i, static (a, b) => a & b); return true;
            case Mnemonic.Pandn: case Mnemonic.Andnps: case Mnemonic.Andnpd: Binary(in i, static (a, b) => ~a & b); return true;
            case Mnemonic.Paddb: Binary(in i, static (a, b) => (a.AsByte() + b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Paddw: Binary(in i, static (a, b) => (a.AsUInt16() + b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Paddd: Binary(in i, static (a, b) => (a.AsUInt32() + b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Paddq: Binary(in i, static (a, b) => a + b); return true;
            case Mnemonic.Psubb: Binary(in i, static (a, b) => (a.AsByte() - b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Psubw: Binary(in i, static (a, b) => (a.AsUInt16() - b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Psubd: Binary(in i, static (a, b) => (a.AsUInt32() - b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Psubq: Binary(in i, static (a, b) => a - b); return true;
            case Mnemonic.Pcmpeqb: Binary(in i, static (a, b) => Vector128.Equals(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pcmpeqw: Binary(in i, static (a, b) => Vector128.Equals(a.AsUInt16(), b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pcmpeqd: Binary(in i, static (a, b) => Vector128.Equals(a.AsUInt32(), b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Pminub: Binary(in i, static (a, b) => Vector128.Min(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pmaxub: Binary(in i, static (a, b) => Vector128.Max(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Punpcklbw: Binary(in i, static (a, b) => Interleave(a.AsByte(), b.AsByte(), high: false).AsUInt64()); return true;
            case Mnemonic.Punpcklqdq: Binary(in i, static (a, b) => Vector128.Create(a.GetElement(0), b.GetElement(0))); return true;
            case Mnemonic.Punpckhqdq: Binary(in i, static (a, b) => Vector128.Create(a.GetElement(1), b.GetElement(1))); return true;
            case Mnemonic.Pmovmskb: MoveMask(in i); return true;
            case Mnemonic.Pshufd: ShuffleDwords(in i); return true;
            case Mnemonic.Psllq: case Mnemonic.Psrlq: case Mnemonic.Pslld: case Mnemonic.Psrld: case Mnemonic.Psllw: case Mnemonic.Psrlw:
                ShiftLanes(in i); return true;
            case Mnemonic.Pslldq: case Mnemonic.Psrldq: ShiftBytes(in i); return true;
            case Mnemonic.Addsd: ScalarDouble(in i, static (a, b) => a + b); return true;
            case Mnemonic.Subsd: ScalarDouble(in i, static (a, b) => a - b); return true;
            case Mnemonic.Mulsd: ScalarDouble(in i, static (a, b) => a * b); return true;
            case Mnemonic.Divsd: ScalarDouble(in i, static (a, b) => a / b); return true;
            case Mnemonic.Sqrtsd: ScalarDouble(in i, static (_, b) => Math.Sqrt(b)); return true;
            case Mnemonic.Cvtsi2sd: ConvertIntegerToDouble(in i); return true;
            case Mnemonic.Cvttsd2si: ConvertDoubleToInteger(in i); return true;
            case Mnemonic.Ucomisd: case Mnemonic.Comisd: CompareDouble(in i); return true;
            case Mnemonic.Ldmxcsr: LoadMxcsr(in i); return true;
            case Mnemonic.Stmxcsr: RequireSse(); _mmu.Write(MemoryLinear(in i), 4, _cpu.Mxcsr); return true;
            default: return false;
        }
    }

    /// <summary>MXCSR_MASK as FXSAVE reports it: every defined bit, DAZ included (SDM vol 1 §11.6.6).</summary>
    private const uint MxcsrMask = 0xFFFF;

    /// <summary>LDMXCSR: setting a reserved bit (outside MXCSR_MASK) raises #GP(0) (SDM "LDMXCSR").</summary>
    private void LoadMxcsr(in Instruction i)
    {
        RequireSse();
        uint value = (uint)_mmu.Read(MemoryLinear(in i), 4);
        if ((value & ~MxcsrMask) != 0) throw CpuException.GeneralProtection();
        _cpu.Mxcsr = value;
    }

    private void MoveVector(in Instruction i, bool aligned)
    {
        RequireSse();
        var value = ReadVector(in i, 1, aligned);
        if (i.Op0Kind == OpKind.Register) WriteXmm(i.Op0Register, value);
        else WriteVectorMemory(in i, value, 16, aligned);
    }

    /// <summary>MOVD/MOVQ between XMM, general registers and memory; loads into XMM zero the rest (SDM "MOVD/MOVQ").</summary>
    private void MoveScalarInteger(in Instruction i)
    {
        RequireSse();
        int size = i.Mnemonic == Mnemonic.Movd ? 4 : 8;
        if (i.Op0Kind == OpKind.Register && IsXmm(i.Op0Register))
        {
            ulong value = i.Op1Kind == OpKind.Register && IsXmm(i.Op1Register)
                ? ReadXmm(i.Op1Register).GetElement(0) & Mask(size)
                : ReadOperand(in i, 1, size);
            WriteXmm(i.Op0Register, Vector128.Create(value & Mask(size), 0UL));
            return;
        }
        WriteOperand(in i, 0, size, ReadXmm(i.Op1Register).GetElement(0) & Mask(size));
    }

    /// <summary>MOVSD/MOVSS: register-to-register merges the low element; a load zeroes the rest; a store writes the element.</summary>
    private void MoveScalarFloat(in Instruction i, int size)
    {
        RequireSse();
        if (i.Op0Kind != OpKind.Register) { WriteVectorMemory(in i, ReadXmm(i.Op1Register), size); return; }
        var destination = ReadXmm(i.Op0Register);
        ulong mask = Mask(size);
        if (i.Op1Kind == OpKind.Register)
        {
            ulong low = (destination.GetElement(0) & ~mask) | (ReadXmm(i.Op1Register).GetElement(0) & mask);
            WriteXmm(i.Op0Register, destination.WithElement(0, low));
        }
        else
        {
            WriteXmm(i.Op0Register, Vector128.Create(_mmu.Read(MemoryLinear(in i), size), 0UL));
        }
    }

    private void Binary(in Instruction i, Func<Vector128<ulong>, Vector128<ulong>, Vector128<ulong>> operation)
    {
        RequireSse();
        WriteXmm(i.Op0Register, operation(ReadXmm(i.Op0Register), ReadVector(in i, 1, aligned: i.Op1Kind == OpKind.Memory)));
    }

    private static Vector128<byte> Interleave(Vector128<byte> a, Vector128<byte> b, bool high)
    {
        Span<byte> result = stackalloc byte[16];
        int start = high ? 8 : 0;
        for (int k = 0; k < 8; k++) { result[2 * k] = a.GetElement(start + k); result[2 * k + 1] = b.GetElement(start + k); }
        return Vector128.Create((ReadOnlySpan<byte>)result);
    }

    private void MoveMask(in Instruction i)
    {
        RequireSse();
        WriteOperand(in i, 0, i.Op0Register.GetSize(), ReadXmm(i.Op1Register).AsByte().ExtractMostSignificantBits());
    }

    private void ShuffleDwords(in Instruction i)
    {
        RequireSse();
        var source = ReadVector(in i, 1, aligned: i.Op1Kind == OpKind.Memory).AsUInt32();
        byte order = i.Immediate8;
        var result = Vector128.Create(source.GetElement(order & 3), source.GetElement((order >> 2) & 3),
            source.GetElement((order >> 4) & 3), source.GetElement((order >> 6) & 3));
        WriteXmm(i.Op0Register, result.AsUInt64());
    }

    private void ShiftLanes(in Instruction i)
    {
        RequireSse();
        // The count operand xmm/m128 is a 128-bit legacy-SSE operand: misaligned memory raises #GP (SDM vol 1 §11.6.6).
        ulong count = i.Op1Kind is OpKind.Register or OpKind.Memory ? ReadVector(in i, 1, aligned: true).GetElement(0) : i.Immediate8;
        var value = ReadXmm(i.Op0Register);
        bool left = i.Mnemonic is Mnemonic.Psllq or Mnemonic.Pslld or Mnemonic.Psllw;
        int laneBits = i.Mnemonic is Mnemonic.Psllq or Mnemonic.Psrlq ? 64 : i.Mnemonic is Mnemonic.Pslld or Mnemonic.Psrld ? 32 : 16;
        Vector128<ulong> result;
        if (count >= (ulong)laneBits) result = Vector128<ulong>.Zero;   // counts past the lane width clear it (SDM "PSLLW/PSLLD/PSLLQ")
        else
        {
            int n = (int)count;
            result = laneBits switch
            {
                64 => left ? value << n : value >>> n,
                32 => (left ? value.AsUInt32() << n : value.AsUInt32() >>> n).AsUInt64(),
                _ => (left ? value.AsUInt16() << n : value.AsUInt16() >>> n).AsUInt64(),
            };
        }
        WriteXmm(i.Op0Register, result);
    }

    private void ShiftBytes(in Instruction i)
    {
        RequireSse();
        int count = Math.Min((int)i.Immediate8, 16);
        var value = ReadXmm(i.Op0Register).AsByte();
        Span<byte> bytes = stackalloc byte[16];
        for (int k = 0; k < 16; k++)
        {
            int from = i.Mnemonic == Mnemonic.Pslldq ? k - count : k + count;
            bytes[k] = from is >= 0 and < 16 ? value.GetElement(from) : (byte)0;
        }
        WriteXmm(i.Op0Register, Vector128.Create((ReadOnlySpan<byte>)bytes).AsUInt64());
    }

    private void ScalarDouble(in Instruction i, Func<double, double, double> operation)
    {
        RequireSse();
        var destination = ReadXmm(i.Op0Register);
        double a = BitConverter.UInt64BitsToDouble(destination.GetElement(0));
        double b = BitConverter.UInt64BitsToDouble(i.Op1Kind == OpKind.Register ? ReadXmm(i.Op1Register).GetElement(0) : _mmu.Read(MemoryLinear(in i), 8));
        WriteXmm(i.Op0Register, destination.WithElement(0, ScalarResult(a, b, operation, i.Mnemonic == Mnemonic.Sqrtsd)));
    }

    private const ulong QuietBit = 1UL << 51, DefaultNaN = 0xFFF8_0000_0000_0000;

    /// <summary>
    /// The SSE NaN rules (SDM vol 1 §4.8.3.5, Table 4-7), not the host's: a NaN operand is returned quieted,
    /// the first source (the destination) when both are NaNs, and SQRTSD looks only at its source; an
    /// invalid operation on non-NaNs (∞−∞, 0×∞, 0/0, ∞/∞, √negative) gives the QNaN floating-point
    /// indefinite 0xFFF8_0000_0000_0000 (§4.8.3.7).
    /// </summary>
    private static ulong ScalarResult(double a, double b, Func<double, double, double> operation, bool unary)
    {
        if (!unary && double.IsNaN(a)) return BitConverter.DoubleToUInt64Bits(a) | QuietBit;
        if (double.IsNaN(b)) return BitConverter.DoubleToUInt64Bits(b) | QuietBit;
        double result = operation(a, b);
        return double.IsNaN(result) ? DefaultNaN : BitConverter.DoubleToUInt64Bits(result);
    }

    private void ConvertIntegerToDouble(in Instruction i)
    {
        RequireSse();
        int size = OperandSize(in i, 1);
        long value = (long)SignExtend(ReadOperand(in i, 1, size), size);
        WriteXmm(i.Op0Register, ReadXmm(i.Op0Register).WithElement(0, BitConverter.DoubleToUInt64Bits(value)));
    }

    /// <summary>CVTTSD2SI: truncation; NaN and out-of-range give the "integer indefinite" value (SDM "CVTTSD2SI").</summary>
    private void ConvertDoubleToInteger(in Instruction i)
    {
        RequireSse();
        int size = i.Op0Register.GetSize();
        double value = BitConverter.UInt64BitsToDouble(i.Op1Kind == OpKind.Register ? ReadXmm(i.Op1Register).GetElement(0) : _mmu.Read(MemoryLinear(in i), 8));
        double truncated = Math.Truncate(value);
        ulong indefinite = size == 8 ? 0x8000_0000_0000_0000 : 0x8000_0000;
        ulong result = double.IsNaN(value) ? indefinite
            : size == 8 ? (truncated >= -9.2233720368547758E18 && truncated < 9.2233720368547758E18 ? (ulong)(long)truncated : indefinite)
            : (truncated >= int.MinValue && truncated <= int.MaxValue ? (ulong)(uint)(int)truncated : indefinite);
        WriteOperand(in i, 0, size, result);
    }

    /// <summary>UCOMISD/COMISD: ZF, PF, CF as unordered/less/equal; OF, SF, AF cleared (SDM "UCOMISD").</summary>
    private void CompareDouble(in Instruction i)
    {
        RequireSse();
        double a = BitConverter.UInt64BitsToDouble(ReadXmm(i.Op0Register).GetElement(0));
        double b = BitConverter.UInt64BitsToDouble(i.Op1Kind == OpKind.Register ? ReadXmm(i.Op1Register).GetElement(0) : _mmu.Read(MemoryLinear(in i), 8));
        ulong flags = double.IsNaN(a) || double.IsNaN(b) ? LazyFlags.ZF | LazyFlags.PF | LazyFlags.CF
            : a < b ? LazyFlags.CF : a == b ? LazyFlags.ZF : 0;
        _cpu.Flags.Store(flags);
    }
}
