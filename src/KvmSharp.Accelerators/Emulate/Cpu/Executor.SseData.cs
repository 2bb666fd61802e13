using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// SSE–SSE4.1 data movement (SDM vol 1 §10.4.1, §11.4.1, §12.3, §12.10): register/memory moves, partial
// moves, sign masks, element inserts and extracts, shuffles and unpacks. None of these look at the values
// as numbers, so none sets an MXCSR flag.
public sealed partial class Executor
{
    private bool TryExecuteSseData(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Movdqa: case Mnemonic.Movaps: case Mnemonic.Movapd: MoveVector(in i, aligned: true); return true;
            case Mnemonic.Movdqu: case Mnemonic.Movups: case Mnemonic.Movupd: MoveVector(in i, aligned: false); return true;
            case Mnemonic.Movntdq: case Mnemonic.Movntps: case Mnemonic.Movntpd: MoveVector(in i, aligned: true); return true;
            case Mnemonic.Lddqu: RequireSse(); WriteXmm(i.Op0Register, Source(in i, 1)); return true;
            case Mnemonic.Movntdqa: RequireSse(); WriteXmm(i.Op0Register, ReadVector(in i, 1, aligned: true)); return true;
            case Mnemonic.Movnti: { int s = OperandSize(in i, 1); WriteOperand(in i, 0, s, RegisterFile.Read(_gpr, i.Op1Register)); return true; }
            case Mnemonic.Movd: case Mnemonic.Movq: MoveScalarInteger(in i); return true;
            case Mnemonic.Movsd when i.Op0Kind == OpKind.Register || i.Op1Kind == OpKind.Register: MoveScalarFloat(in i, 8); return true;
            case Mnemonic.Movss: MoveScalarFloat(in i, 4); return true;
            case Mnemonic.Movlps: case Mnemonic.Movlpd: MoveHalf(in i, high: false); return true;
            case Mnemonic.Movhps: case Mnemonic.Movhpd: MoveHalf(in i, high: true); return true;
            case Mnemonic.Movhlps: RequireSse(); WriteXmm(i.Op0Register, ReadXmm(i.Op0Register).WithElement(0, ReadXmm(i.Op1Register).GetElement(1))); return true;
            case Mnemonic.Movlhps: RequireSse(); WriteXmm(i.Op0Register, ReadXmm(i.Op0Register).WithElement(1, ReadXmm(i.Op1Register).GetElement(0))); return true;
            case Mnemonic.Movddup: Packed(in i, static (_, b) => Vector128.Create(b.GetElement(0), b.GetElement(0))); return true;
            case Mnemonic.Movshdup: Packed(in i, static (_, b) => Vector128.Shuffle(b.AsUInt32(), Vector128.Create(1u, 1, 3, 3)).AsUInt64()); return true;
            case Mnemonic.Movsldup: Packed(in i, static (_, b) => Vector128.Shuffle(b.AsUInt32(), Vector128.Create(0u, 0, 2, 2)).AsUInt64()); return true;
            case Mnemonic.Movmskps: RequireSse(); RegisterFile.Write(_gpr, i.Op0Register, ReadXmm(i.Op1Register).AsUInt32().ExtractMostSignificantBits()); return true;
            case Mnemonic.Movmskpd: RequireSse(); RegisterFile.Write(_gpr, i.Op0Register, ReadXmm(i.Op1Register).ExtractMostSignificantBits()); return true;
            case Mnemonic.Pmovmskb:
                RequireSimd(in i);
                RegisterFile.Write(_gpr, i.Op0Register, Source(in i, 1).AsByte().ExtractMostSignificantBits());
                if (!IsXmm(i.Op1Register)) EnterMmxState();
                return true;
            case Mnemonic.Pxor: case Mnemonic.Xorps: case Mnemonic.Xorpd: Packed(in i, static (a, b) => a ^ b); return true;
            case Mnemonic.Por: case Mnemonic.Orps: case Mnemonic.Orpd: Packed(in i, static (a, b) => a | b); return true;
            case Mnemonic.Pand: case Mnemonic.Andps: case Mnemonic.Andpd: Packed(in i, static (a, b) => a & b); return true;
            case Mnemonic.Pandn: case Mnemonic.Andnps: case Mnemonic.Andnpd: Packed(in i, static (a, b) => ~a & b); return true;
            case Mnemonic.Pshufd: PackedImmediate(in i, static (_, b, order) => ShuffleDwords(b, order)); return true;
            case Mnemonic.Pshuflw: PackedImmediate(in i, static (_, b, order) => b.WithElement(0, ShuffleWords(b.GetElement(0), order))); return true;
            case Mnemonic.Pshufhw: PackedImmediate(in i, static (_, b, order) => b.WithElement(1, ShuffleWords(b.GetElement(1), order))); return true;
            case Mnemonic.Shufps: PackedImmediate(in i, static (a, b, order) => ShuffleSingles(a, b, order)); return true;
            case Mnemonic.Shufpd: PackedImmediate(in i, static (a, b, order) => Vector128.Create(a.GetElement(order & 1), b.GetElement((order >> 1) & 1))); return true;
            case Mnemonic.Punpcklbw: Packed(in i, static (a, b) => Interleave(a, b, 1, high: false)); return true;
            case Mnemonic.Punpcklwd: Packed(in i, static (a, b) => Interleave(a, b, 2, high: false)); return true;
            case Mnemonic.Punpckldq: case Mnemonic.Unpcklps: Packed(in i, static (a, b) => Interleave(a, b, 4, high: false)); return true;
            case Mnemonic.Punpcklqdq: case Mnemonic.Unpcklpd: Packed(in i, static (a, b) => Vector128.Create(a.GetElement(0), b.GetElement(0))); return true;
            case Mnemonic.Punpckhbw: Packed(in i, static (a, b) => Interleave(a, b, 1, high: true), MmxShape.HighHalves); return true;
            case Mnemonic.Punpckhwd: Packed(in i, static (a, b) => Interleave(a, b, 2, high: true), MmxShape.HighHalves); return true;
            case Mnemonic.Punpckhdq: case Mnemonic.Unpckhps: Packed(in i, static (a, b) => Interleave(a, b, 4, high: true), MmxShape.HighHalves); return true;
            case Mnemonic.Punpckhqdq: case Mnemonic.Unpckhpd: Packed(in i, static (a, b) => Vector128.Create(a.GetElement(1), b.GetElement(1))); return true;
            case Mnemonic.Pinsrw: case Mnemonic.Pinsrb: case Mnemonic.Pinsrd: case Mnemonic.Pinsrq: InsertElement(in i); return true;
            case Mnemonic.Pextrw: case Mnemonic.Pextrb: case Mnemonic.Pextrd: case Mnemonic.Pextrq: case Mnemonic.Extractps: ExtractElement(in i); return true;
            case Mnemonic.Insertps: InsertSingle(in i); return true;
            case Mnemonic.Ldmxcsr: LoadMxcsr(in i); return true;
            case Mnemonic.Stmxcsr: RequireSse(); _mmu.Write(MemoryLinear(in i), 4, _cpu.Mxcsr); return true;
            default: return false;
        }
    }

    private void MoveVector(in Instruction i, bool aligned)
    {
        RequireSse();
        var value = ReadVector(in i, 1, aligned);
        if (i.Op0Kind == OpKind.Register) WriteXmm(i.Op0Register, value);
        else WriteVectorMemory(in i, value, 16, aligned);
    }

    /// <summary>
    /// MOVD/MOVQ among XMM, MMX, general registers and memory: loads into XMM zero the rest, MOVD into MMX
    /// zero-extends (SDM "MOVD/MOVQ", "MOVQ").
    /// </summary>
    private void MoveScalarInteger(in Instruction i)
    {
        RequireSimd(in i);
        int size = i.Mnemonic == Mnemonic.Movd ? 4 : 8;
        bool mmx = false;
        ulong value;
        if (i.Op1Kind == OpKind.Register)
        {
            var source = i.Op1Register;
            mmx |= IsMmx(source);
            value = IsXmm(source) ? ReadXmm(source).GetElement(0) : mmx ? MmxValue(source - Register.MM0) : RegisterFile.Read(_gpr, source);
        }
        else value = _mmu.Read(MemoryLinear(in i), size);
        value &= Mask(size);
        if (i.Op0Kind == OpKind.Register)
        {
            var destination = i.Op0Register;
            if (IsXmm(destination)) WriteXmm(destination, Vector128.Create(value, 0UL));
            else if (IsMmx(destination)) { MmxRegister(destination - Register.MM0) = value; mmx = true; }
            else RegisterFile.Write(_gpr, destination, value);
        }
        else _mmu.Write(MemoryLinear(in i), size, value);
        if (mmx) EnterMmxState();
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

    /// <summary>MOVLPS/MOVHPS/MOVLPD/MOVHPD: one 64-bit half between an XMM register and memory; the other half is kept.</summary>
    private void MoveHalf(in Instruction i, bool high)
    {
        RequireSse();
        int half = high ? 1 : 0;
        if (i.Op0Kind == OpKind.Memory) _mmu.Write(MemoryLinear(in i), 8, ReadXmm(i.Op1Register).GetElement(half));
        else WriteXmm(i.Op0Register, ReadXmm(i.Op0Register).WithElement(half, _mmu.Read(MemoryLinear(in i), 8)));
    }

    private static Vector128<ulong> ShuffleDwords(Vector128<ulong> source, byte order) =>
        Vector128.Shuffle(source.AsUInt32(), Vector128.Create((uint)(order & 3), (uint)(order >> 2) & 3, (uint)(order >> 4) & 3, (uint)(order >> 6) & 3)).AsUInt64();

    private static ulong ShuffleWords(ulong source, byte order)
    {
        ulong result = 0;
        for (int k = 0; k < 4; k++) result |= (source >> (16 * ((order >> (2 * k)) & 3)) & 0xFFFF) << (16 * k);
        return result;
    }

    /// <summary>SHUFPS: the low two results come from the destination, the high two from the source (SDM "SHUFPS").</summary>
    private static Vector128<ulong> ShuffleSingles(Vector128<ulong> a, Vector128<ulong> b, byte order)
    {
        var x = a.AsUInt32();
        var y = b.AsUInt32();
        return Vector128.Create(x.GetElement(order & 3), x.GetElement((order >> 2) & 3), y.GetElement((order >> 4) & 3), y.GetElement((order >> 6) & 3)).AsUInt64();
    }

    /// <summary>PUNPCKL*/PUNPCKH*/UNPCK*PS: the elements of one half of each operand, alternately (destination first).</summary>
    private static Vector128<ulong> Interleave(Vector128<ulong> a, Vector128<ulong> b, int elementSize, bool high)
    {
        var x = a.AsByte();
        var y = b.AsByte();
        Span<byte> result = stackalloc byte[16];
        int start = high ? 8 : 0, count = 8 / elementSize;
        for (int k = 0; k < count; k++)
            for (int n = 0; n < elementSize; n++)
            {
                result[2 * k * elementSize + n] = x.GetElement(start + k * elementSize + n);
                result[(2 * k + 1) * elementSize + n] = y.GetElement(start + k * elementSize + n);
            }
        return Vector128.Create((ReadOnlySpan<byte>)result).AsUInt64();
    }

    /// <summary>PINSRW (MMX/XMM), PINSRB/D/Q: an element from a general register or memory into the lane the immediate picks.</summary>
    private void InsertElement(in Instruction i)
    {
        RequireSimd(in i);
        int size = i.Mnemonic switch { Mnemonic.Pinsrb => 1, Mnemonic.Pinsrw => 2, Mnemonic.Pinsrd => 4, _ => 8 };
        ulong value = (i.Op1Kind == OpKind.Register ? RegisterFile.Read(_gpr, i.Op1Register) : _mmu.Read(MemoryLinear(in i), size)) & Mask(size);
        bool mmx = IsMmx(i.Op0Register);
        int lanes = (mmx ? 8 : 16) / size;
        int shift = (i.Immediate8 & (lanes - 1)) * size * 8;
        if (mmx)
        {
            ref ulong register = ref MmxRegister(i.Op0Register - Register.MM0);
            register = (register & ~(Mask(size) << shift)) | (value << shift);
            EnterMmxState();
            return;
        }
        var vector = ReadXmm(i.Op0Register);
        int half = shift / 64;
        shift %= 64;
        WriteXmm(i.Op0Register, vector.WithElement(half, (vector.GetElement(half) & ~(Mask(size) << shift)) | (value << shift)));
    }

    /// <summary>
    /// PEXTRW (MMX/XMM), PEXTRB/D/Q, EXTRACTPS: the lane the immediate picks, zero-extended into a general
    /// register or stored at its own size (SDM "PEXTRB/PEXTRD/PEXTRQ", "EXTRACTPS").
    /// </summary>
    private void ExtractElement(in Instruction i)
    {
        RequireSimd(in i);
        int size = i.Mnemonic switch { Mnemonic.Pextrb => 1, Mnemonic.Pextrw => 2, Mnemonic.Pextrq => 8, _ => 4 };
        var source = Source(in i, 1);
        bool mmx = !IsXmm(i.Op1Register);
        int lanes = (mmx ? 8 : 16) / size;
        int bit = (i.Immediate8 & (lanes - 1)) * size * 8;
        ulong value = (source.GetElement(bit / 64) >> (bit % 64)) & Mask(size);
        if (i.Op0Kind == OpKind.Register) RegisterFile.Write(_gpr, i.Op0Register, value);
        else _mmu.Write(MemoryLinear(in i), size, value);
        if (mmx) EnterMmxState();
    }

    /// <summary>INSERTPS: a single from the source (imm[7:6] picks it from a register) into lane imm[5:4], then lanes in imm[3:0] zeroed.</summary>
    private void InsertSingle(in Instruction i)
    {
        RequireSse();
        byte control = i.Immediate8;
        uint value = i.Op1Kind == OpKind.Register
            ? ReadXmm(i.Op1Register).AsUInt32().GetElement(control >> 6)
            : (uint)_mmu.Read(MemoryLinear(in i), 4);
        var result = ReadXmm(i.Op0Register).AsUInt32().WithElement((control >> 4) & 3, value);
        for (int k = 0; k < 4; k++) if ((control >> k & 1) != 0) result = result.WithElement(k, 0u);
        WriteXmm(i.Op0Register, result.AsUInt64());
    }
}
