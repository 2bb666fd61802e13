using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Packed integer arithmetic of MMX, SSE2 and SSSE3 (SDM vol 1 §9.4, §11.4.3, §12.7; vol 2 per instruction),
// on XMM and MMX registers alike (Packed, Executor.Sse.cs). Vector128 operations are used where their
// semantics are the instruction's exactly (wrapping add, signed/unsigned saturation, lane compares);
// the rest is lane-by-lane code.
public sealed partial class Executor
{
    private bool TryExecuteSseInteger(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Paddb: Packed(in i, static (a, b) => (a.AsByte() + b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Paddw: Packed(in i, static (a, b) => (a.AsUInt16() + b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Paddd: Packed(in i, static (a, b) => (a.AsUInt32() + b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Paddq: Packed(in i, static (a, b) => a + b); return true;
            case Mnemonic.Psubb: Packed(in i, static (a, b) => (a.AsByte() - b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Psubw: Packed(in i, static (a, b) => (a.AsUInt16() - b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Psubd: Packed(in i, static (a, b) => (a.AsUInt32() - b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Psubq: Packed(in i, static (a, b) => a - b); return true;
            case Mnemonic.Paddsb: Packed(in i, static (a, b) => Vector128.AddSaturate(a.AsSByte(), b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Paddsw: Packed(in i, static (a, b) => Vector128.AddSaturate(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Paddusb: Packed(in i, static (a, b) => Vector128.AddSaturate(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Paddusw: Packed(in i, static (a, b) => Vector128.AddSaturate(a.AsUInt16(), b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Psubsb: Packed(in i, static (a, b) => Vector128.SubtractSaturate(a.AsSByte(), b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Psubsw: Packed(in i, static (a, b) => Vector128.SubtractSaturate(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Psubusb: Packed(in i, static (a, b) => Vector128.SubtractSaturate(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Psubusw: Packed(in i, static (a, b) => Vector128.SubtractSaturate(a.AsUInt16(), b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pcmpeqb: Packed(in i, static (a, b) => Vector128.Equals(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pcmpeqw: Packed(in i, static (a, b) => Vector128.Equals(a.AsUInt16(), b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pcmpeqd: Packed(in i, static (a, b) => Vector128.Equals(a.AsUInt32(), b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Pcmpgtb: Packed(in i, static (a, b) => Vector128.GreaterThan(a.AsSByte(), b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Pcmpgtw: Packed(in i, static (a, b) => Vector128.GreaterThan(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pcmpgtd: Packed(in i, static (a, b) => Vector128.GreaterThan(a.AsInt32(), b.AsInt32()).AsUInt64()); return true;
            case Mnemonic.Pminub: Packed(in i, static (a, b) => Vector128.Min(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pmaxub: Packed(in i, static (a, b) => Vector128.Max(a.AsByte(), b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pminsw: Packed(in i, static (a, b) => Vector128.Min(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pmaxsw: Packed(in i, static (a, b) => Vector128.Max(a.AsInt16(), b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pmullw: Packed(in i, static (a, b) => (a.AsUInt16() * b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pmulhw: Packed(in i, static (a, b) => Map<short>(a, b, static (x, y) => (short)((x * y) >> 16))); return true;
            case Mnemonic.Pmulhuw: Packed(in i, static (a, b) => Map<ushort>(a, b, static (x, y) => (ushort)(((uint)x * y) >> 16))); return true;
            case Mnemonic.Pmuludq: Packed(in i, static (a, b) => (a & Vector128.Create(0xFFFF_FFFFUL)) * (b & Vector128.Create(0xFFFF_FFFFUL))); return true;
            case Mnemonic.Pmaddwd: Packed(in i, static (a, b) => MultiplyAddWords(a, b)); return true;
            case Mnemonic.Psadbw: Packed(in i, static (a, b) => SumAbsoluteDifferences(a, b)); return true;
            case Mnemonic.Pavgb: Packed(in i, static (a, b) => Map<byte>(a, b, static (x, y) => (byte)((x + y + 1) >> 1))); return true;
            case Mnemonic.Pavgw: Packed(in i, static (a, b) => Map<ushort>(a, b, static (x, y) => (ushort)((x + y + 1) >> 1))); return true;
            case Mnemonic.Packsswb: Packed(in i, static (a, b) => Vector128.NarrowWithSaturation(a.AsInt16(), b.AsInt16()).AsUInt64(), MmxShape.Pairs); return true;
            case Mnemonic.Packssdw: Packed(in i, static (a, b) => Vector128.NarrowWithSaturation(a.AsInt32(), b.AsInt32()).AsUInt64(), MmxShape.Pairs); return true;
            case Mnemonic.Packuswb: Packed(in i, static (a, b) => Vector128.NarrowWithSaturation(Vector128.Max(a.AsInt16(), Vector128<short>.Zero).AsUInt16(), Vector128.Max(b.AsInt16(), Vector128<short>.Zero).AsUInt16()).AsUInt64(), MmxShape.Pairs); return true;
            case Mnemonic.Psllw: case Mnemonic.Pslld: case Mnemonic.Psllq: case Mnemonic.Psrlw: case Mnemonic.Psrld: case Mnemonic.Psrlq:
            case Mnemonic.Psraw: case Mnemonic.Psrad:
                ShiftLanes(in i); return true;
            case Mnemonic.Pslldq: RequireSse(); WriteXmm(i.Op0Register, ShiftBytesLeft(ReadXmm(i.Op0Register), i.Immediate8)); return true;
            case Mnemonic.Psrldq: RequireSse(); WriteXmm(i.Op0Register, ShiftBytesRight(ReadXmm(i.Op0Register), Vector128<ulong>.Zero, i.Immediate8)); return true;

            // SSSE3 (SDM vol 1 §12.7)
            case Mnemonic.Pshufb: Packed(in i, static (a, b) => Vector128.Shuffle(a.AsByte(), b.AsByte() & Vector128.Create((byte)0x8F)).AsUInt64(), MmxShape.Repeated); return true;
            case Mnemonic.Phaddw: Packed(in i, static (a, b) => Horizontal<short>(a, b, static (x, y) => (short)(x + y)), MmxShape.Pairs); return true;
            case Mnemonic.Phaddd: Packed(in i, static (a, b) => Horizontal<int>(a, b, static (x, y) => x + y), MmxShape.Pairs); return true;
            case Mnemonic.Phaddsw: Packed(in i, static (a, b) => Horizontal<short>(a, b, static (x, y) => SaturateWord(x + y)), MmxShape.Pairs); return true;
            case Mnemonic.Phsubw: Packed(in i, static (a, b) => Horizontal<short>(a, b, static (x, y) => (short)(x - y)), MmxShape.Pairs); return true;
            case Mnemonic.Phsubd: Packed(in i, static (a, b) => Horizontal<int>(a, b, static (x, y) => x - y), MmxShape.Pairs); return true;
            case Mnemonic.Phsubsw: Packed(in i, static (a, b) => Horizontal<short>(a, b, static (x, y) => SaturateWord(x - y)), MmxShape.Pairs); return true;
            case Mnemonic.Pmaddubsw: Packed(in i, static (a, b) => MultiplyAddBytes(a, b)); return true;
            case Mnemonic.Pmulhrsw: Packed(in i, static (a, b) => Map<short>(a, b, static (x, y) => (short)((((x * y) >> 14) + 1) >> 1))); return true;
            case Mnemonic.Psignb: Packed(in i, static (a, b) => Map<sbyte>(a, b, static (x, y) => y < 0 ? (sbyte)-x : y == 0 ? (sbyte)0 : x)); return true;
            case Mnemonic.Psignw: Packed(in i, static (a, b) => Map<short>(a, b, static (x, y) => y < 0 ? (short)-x : y == 0 ? (short)0 : x)); return true;
            case Mnemonic.Psignd: Packed(in i, static (a, b) => Map<int>(a, b, static (x, y) => y < 0 ? -x : y == 0 ? 0 : x)); return true;
            case Mnemonic.Pabsb: Packed(in i, static (_, b) => Vector128.Abs(b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Pabsw: Packed(in i, static (_, b) => Vector128.Abs(b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pabsd: Packed(in i, static (_, b) => Vector128.Abs(b.AsInt32()).AsUInt64()); return true;
            case Mnemonic.Palignr: AlignRight(in i); return true;
            default: return false;
        }
    }

    /// <summary>Applies <paramref name="f"/> to each pair of lanes.</summary>
    private static Vector128<ulong> Map<T>(Vector128<ulong> a, Vector128<ulong> b, Func<T, T, T> f)
    {
        var x = a.As<ulong, T>();
        var y = b.As<ulong, T>();
        var result = Vector128<T>.Zero;
        for (int k = 0; k < Vector128<T>.Count; k++) result = result.WithElement(k, f(x.GetElement(k), y.GetElement(k)));
        return result.As<T, ulong>();
    }

    /// <summary>PHADD*/PHSUB*: f of adjacent lane pairs, the destination's pairs in the low half, the source's in the high (SDM "PHADDW").</summary>
    private static Vector128<ulong> Horizontal<T>(Vector128<ulong> a, Vector128<ulong> b, Func<T, T, T> f)
    {
        var x = a.As<ulong, T>();
        var y = b.As<ulong, T>();
        int half = Vector128<T>.Count / 2;
        var result = Vector128<T>.Zero;
        for (int k = 0; k < half; k++)
        {
            result = result.WithElement(k, f(x.GetElement(2 * k), x.GetElement(2 * k + 1)));
            result = result.WithElement(half + k, f(y.GetElement(2 * k), y.GetElement(2 * k + 1)));
        }
        return result.As<T, ulong>();
    }

    private static short SaturateWord(int value) => (short)Math.Clamp(value, short.MinValue, short.MaxValue);

    /// <summary>PMADDWD: signed word products summed in pairs into dwords (0x8000·0x8000 twice wraps to 0x8000_0000, SDM "PMADDWD").</summary>
    private static Vector128<ulong> MultiplyAddWords(Vector128<ulong> a, Vector128<ulong> b)
    {
        var x = a.AsInt16();
        var y = b.AsInt16();
        var result = Vector128<int>.Zero;
        for (int k = 0; k < 4; k++)
            result = result.WithElement(k, unchecked(x.GetElement(2 * k) * y.GetElement(2 * k) + x.GetElement(2 * k + 1) * y.GetElement(2 * k + 1)));
        return result.AsUInt64();
    }

    /// <summary>PMADDUBSW: unsigned destination bytes times signed source bytes, pairs summed with signed saturation.</summary>
    private static Vector128<ulong> MultiplyAddBytes(Vector128<ulong> a, Vector128<ulong> b)
    {
        var x = a.AsByte();
        var y = b.AsSByte();
        var result = Vector128<short>.Zero;
        for (int k = 0; k < 8; k++)
            result = result.WithElement(k, SaturateWord(x.GetElement(2 * k) * y.GetElement(2 * k) + x.GetElement(2 * k + 1) * y.GetElement(2 * k + 1)));
        return result.AsUInt64();
    }

    /// <summary>PSADBW: per 64-bit half, the sum of the eight absolute byte differences in the low word, zeros above.</summary>
    private static Vector128<ulong> SumAbsoluteDifferences(Vector128<ulong> a, Vector128<ulong> b)
    {
        var x = a.AsByte();
        var y = b.AsByte();
        ulong low = 0, high = 0;
        for (int k = 0; k < 8; k++)
        {
            low += (ulong)Math.Abs(x.GetElement(k) - y.GetElement(k));
            high += (ulong)Math.Abs(x.GetElement(k + 8) - y.GetElement(k + 8));
        }
        return Vector128.Create(low, high);
    }

    /// <summary>
    /// PSLL/PSRL/PSRA by an immediate or by the low 64 bits of a register or memory operand: counts past the
    /// lane width clear the lane (logical) or fill it with the sign (arithmetic) (SDM "PSLLW/PSLLD/PSLLQ", "PSRAW/PSRAD").
    /// </summary>
    private void ShiftLanes(in Instruction i)
    {
        RequireSimd(in i);
        ulong count = i.Op1Kind == OpKind.Immediate8 ? i.Immediate8 : Source(in i, 1).GetElement(0);
        bool mmx = IsMmx(i.Op0Register);
        var value = mmx ? Vector128.Create(MmxValue(i.Op0Register - Register.MM0), 0UL) : ReadXmm(i.Op0Register);
        int laneBits = i.Mnemonic switch
        {
            Mnemonic.Psllq or Mnemonic.Psrlq => 64,
            Mnemonic.Pslld or Mnemonic.Psrld or Mnemonic.Psrad => 32,
            _ => 16,
        };
        bool arithmetic = i.Mnemonic is Mnemonic.Psraw or Mnemonic.Psrad;
        bool left = i.Mnemonic is Mnemonic.Psllw or Mnemonic.Pslld or Mnemonic.Psllq;
        Vector128<ulong> result;
        if (count >= (ulong)laneBits && !arithmetic) result = Vector128<ulong>.Zero;
        else
        {
            int n = (int)Math.Min(count, (ulong)laneBits - 1);
            result = (laneBits, left, arithmetic) switch
            {
                (64, true, _) => value << n,
                (64, false, _) => value >>> n,
                (32, true, _) => (value.AsUInt32() << n).AsUInt64(),
                (32, false, false) => (value.AsUInt32() >>> n).AsUInt64(),
                (32, false, true) => (value.AsInt32() >> n).AsUInt64(),
                (_, true, _) => (value.AsUInt16() << n).AsUInt64(),
                (_, false, false) => (value.AsUInt16() >>> n).AsUInt64(),
                _ => (value.AsInt16() >> n).AsUInt64(),
            };
        }
        if (mmx) { MmxRegister(i.Op0Register - Register.MM0) = result.GetElement(0); EnterMmxState(); }
        else WriteXmm(i.Op0Register, result);
    }

    private static Vector128<ulong> ShiftBytesLeft(Vector128<ulong> value, int count)
    {
        var bytes = value.AsByte();
        var result = Vector128<byte>.Zero;
        for (int k = count; k < 16; k++) result = result.WithElement(k, bytes.GetElement(k - count));
        return result.AsUInt64();
    }

    /// <summary>The 32-byte value high:low shifted right by <paramref name="count"/> bytes, low 16 bytes (PSRLDQ, PALIGNR).</summary>
    private static Vector128<ulong> ShiftBytesRight(Vector128<ulong> low, Vector128<ulong> high, int count)
    {
        var a = low.AsByte();
        var b = high.AsByte();
        var result = Vector128<byte>.Zero;
        for (int k = 0; k < 16 && k + count < 32; k++)
        {
            int from = k + count;
            result = result.WithElement(k, from < 16 ? a.GetElement(from) : b.GetElement(from - 16));
        }
        return result.AsUInt64();
    }

    /// <summary>PALIGNR: destination:source shifted right by imm8 bytes; the MMX form works on 16 bytes (SDM "PALIGNR").</summary>
    private void AlignRight(in Instruction i)
    {
        RequireSimd(in i);
        var source = Source(in i, 1);
        int count = i.Immediate8;
        if (IsXmm(i.Op0Register))
        {
            WriteXmm(i.Op0Register, ShiftBytesRight(source, ReadXmm(i.Op0Register), count));
            return;
        }
        ref ulong destination = ref MmxRegister(i.Op0Register - Register.MM0);
        destination = ShiftBytesRight(Vector128.Create(source.GetElement(0), destination), Vector128<ulong>.Zero, count).GetElement(0);
        EnterMmxState();
    }
}
