using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// SSE4.1 (SDM vol 1 §12.10; vol 2 per instruction): blends, widening moves, the new integer compares,
// min/max and multiplies, PTEST, ROUND*, DPPS/DPPD, MPSADBW and PHMINPOSUW. Element inserts and extracts
// are in Executor.SseData.cs.
public sealed partial class Executor
{
    private bool TryExecuteSse4(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Pminsb: Packed(in i, static (a, b) => Vector128.Min(a.AsSByte(), b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Pmaxsb: Packed(in i, static (a, b) => Vector128.Max(a.AsSByte(), b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Pminuw: Packed(in i, static (a, b) => Vector128.Min(a.AsUInt16(), b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pmaxuw: Packed(in i, static (a, b) => Vector128.Max(a.AsUInt16(), b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pminsd: Packed(in i, static (a, b) => Vector128.Min(a.AsInt32(), b.AsInt32()).AsUInt64()); return true;
            case Mnemonic.Pmaxsd: Packed(in i, static (a, b) => Vector128.Max(a.AsInt32(), b.AsInt32()).AsUInt64()); return true;
            case Mnemonic.Pminud: Packed(in i, static (a, b) => Vector128.Min(a.AsUInt32(), b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Pmaxud: Packed(in i, static (a, b) => Vector128.Max(a.AsUInt32(), b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Pmulld: Packed(in i, static (a, b) => (a.AsUInt32() * b.AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Pmuldq: Packed(in i, static (a, b) => Map<long>(a, b, static (x, y) => (long)(int)x * (int)y)); return true;
            case Mnemonic.Pcmpeqq: Packed(in i, static (a, b) => Vector128.Equals(a, b)); return true;
            case Mnemonic.Pcmpgtq: Packed(in i, static (a, b) => Vector128.GreaterThan(a.AsInt64(), b.AsInt64()).AsUInt64()); return true;
            case Mnemonic.Packusdw: Packed(in i, static (a, b) => Vector128.NarrowWithSaturation(Vector128.Max(a.AsInt32(), Vector128<int>.Zero).AsUInt32(), Vector128.Max(b.AsInt32(), Vector128<int>.Zero).AsUInt32()).AsUInt64()); return true;
            case Mnemonic.Pmovsxbw: Packed(in i, static (_, b) => Vector128.WidenLower(b.AsSByte()).AsUInt64()); return true;
            case Mnemonic.Pmovsxwd: Packed(in i, static (_, b) => Vector128.WidenLower(b.AsInt16()).AsUInt64()); return true;
            case Mnemonic.Pmovsxdq: Packed(in i, static (_, b) => Vector128.WidenLower(b.AsInt32()).AsUInt64()); return true;
            case Mnemonic.Pmovsxbd: Packed(in i, static (_, b) => Vector128.WidenLower(Vector128.WidenLower(b.AsSByte())).AsUInt64()); return true;
            case Mnemonic.Pmovsxwq: Packed(in i, static (_, b) => Vector128.WidenLower(Vector128.WidenLower(b.AsInt16())).AsUInt64()); return true;
            case Mnemonic.Pmovsxbq: Packed(in i, static (_, b) => Vector128.WidenLower(Vector128.WidenLower(Vector128.WidenLower(b.AsSByte()))).AsUInt64()); return true;
            case Mnemonic.Pmovzxbw: Packed(in i, static (_, b) => Vector128.WidenLower(b.AsByte()).AsUInt64()); return true;
            case Mnemonic.Pmovzxwd: Packed(in i, static (_, b) => Vector128.WidenLower(b.AsUInt16()).AsUInt64()); return true;
            case Mnemonic.Pmovzxdq: Packed(in i, static (_, b) => Vector128.WidenLower(b.AsUInt32())); return true;
            case Mnemonic.Pmovzxbd: Packed(in i, static (_, b) => Vector128.WidenLower(Vector128.WidenLower(b.AsByte())).AsUInt64()); return true;
            case Mnemonic.Pmovzxwq: Packed(in i, static (_, b) => Vector128.WidenLower(Vector128.WidenLower(b.AsUInt16()))); return true;
            case Mnemonic.Pmovzxbq: Packed(in i, static (_, b) => Vector128.WidenLower(Vector128.WidenLower(Vector128.WidenLower(b.AsByte())))); return true;
            case Mnemonic.Pblendw: PackedImmediate(in i, static (a, b, mask) => Blend(a.AsUInt16(), b.AsUInt16(), mask).AsUInt64()); return true;
            case Mnemonic.Blendps: PackedImmediate(in i, static (a, b, mask) => Blend(a.AsUInt32(), b.AsUInt32(), mask).AsUInt64()); return true;
            case Mnemonic.Blendpd: PackedImmediate(in i, static (a, b, mask) => Blend(a, b, mask)); return true;
            case Mnemonic.Pblendvb: BlendVariable(in i, 1); return true;
            case Mnemonic.Blendvps: BlendVariable(in i, 4); return true;
            case Mnemonic.Blendvpd: BlendVariable(in i, 8); return true;
            case Mnemonic.Ptest: TestVector(in i); return true;
            case Mnemonic.Mpsadbw: PackedImmediate(in i, static (a, b, control) => MultipleSad(a, b, control)); return true;
            case Mnemonic.Phminposuw: Packed(in i, static (_, b) => MinimumPosition(b)); return true;
            case Mnemonic.Roundps: RoundLanes(in i, true, 4); return true;
            case Mnemonic.Roundpd: RoundLanes(in i, false, 2); return true;
            case Mnemonic.Roundss: RoundLanes(in i, true, 1); return true;
            case Mnemonic.Roundsd: RoundLanes(in i, false, 1); return true;
            case Mnemonic.Dpps: DotProduct(in i, true); return true;
            case Mnemonic.Dppd: DotProduct(in i, false); return true;
            default: return false;
        }
    }

    /// <summary>Lanes whose immediate bit is set come from the source (PBLENDW, BLENDPS, BLENDPD).</summary>
    private static Vector128<T> Blend<T>(Vector128<T> a, Vector128<T> b, byte mask)
    {
        var result = a;
        for (int k = 0; k < Vector128<T>.Count; k++) if ((mask >> k & 1) != 0) result = result.WithElement(k, b.GetElement(k));
        return result;
    }

    /// <summary>PBLENDVB/BLENDVPS/BLENDVPD: lanes whose mask lane in XMM0 has its top bit set come from the source.</summary>
    private void BlendVariable(in Instruction i, int laneSize)
    {
        RequireSse();
        var a = ReadXmm(i.Op0Register).AsByte();
        var b = Source(in i, 1).AsByte();
        var mask = ReadXmm(Register.XMM0).AsByte();
        var result = a;
        for (int k = 0; k < 16; k++)
            if ((mask.GetElement(k / laneSize * laneSize + laneSize - 1) & 0x80) != 0) result = result.WithElement(k, b.GetElement(k));
        WriteXmm(i.Op0Register, result.AsUInt64());
    }

    /// <summary>PTEST: ZF = (dest AND src) is zero, CF = (NOT dest AND src) is zero; AF, OF, PF, SF cleared.</summary>
    private void TestVector(in Instruction i)
    {
        RequireSse();
        var a = ReadXmm(i.Op0Register);
        var b = Source(in i, 1);
        ulong flags = ((a & b) == Vector128<ulong>.Zero ? LazyFlags.ZF : 0) | ((~a & b) == Vector128<ulong>.Zero ? LazyFlags.CF : 0);
        _cpu.Flags.Store(flags);
    }

    /// <summary>
    /// MPSADBW: eight sums of absolute differences between 4-byte groups of the source (group imm8[1:0]) and
    /// sliding 4-byte windows of the destination starting at byte 4·imm8[2] (SDM "MPSADBW").
    /// </summary>
    private static Vector128<ulong> MultipleSad(Vector128<ulong> a, Vector128<ulong> b, byte control)
    {
        var x = a.AsByte();
        var y = b.AsByte();
        int destinationOffset = (control >> 2 & 1) * 4, sourceOffset = (control & 3) * 4;
        var result = Vector128<ushort>.Zero;
        for (int k = 0; k < 8; k++)
        {
            int sum = 0;
            for (int n = 0; n < 4; n++) sum += Math.Abs(x.GetElement(destinationOffset + k + n) - y.GetElement(sourceOffset + n));
            result = result.WithElement(k, (ushort)sum);
        }
        return result.AsUInt64();
    }

    /// <summary>PHMINPOSUW: the smallest unsigned word (lowest index on ties) in word 0, its index in word 1, zeros above.</summary>
    private static Vector128<ulong> MinimumPosition(Vector128<ulong> b)
    {
        var words = b.AsUInt16();
        int index = 0;
        for (int k = 1; k < 8; k++) if (words.GetElement(k) < words.GetElement(index)) index = k;
        return Vector128.Create(words.GetElement(index) | ((ulong)index << 16), 0UL);
    }

    /// <summary>
    /// ROUNDPS/PD/SS/SD: to an integral value by imm8[1:0] or, with imm8[2], MXCSR.RC; imm8[3] suppresses the
    /// precision condition. An SNaN raises IE; denormals are not reported (SDM "ROUNDPD").
    /// </summary>
    private void RoundLanes(in Instruction i, bool single, int lanes)
    {
        RequireSse();
        var b = Source(in i, 1);
        var result = lanes == 1 ? ReadXmm(i.Op0Register) : b;
        byte control = i.Immediate8;
        int mode = (control & 4) != 0 ? RoundingControl : control & 3;
        for (int k = 0; k < lanes; k++)
        {
            ulong bits = Lane(b, k, single);
            ulong value;
            if (IsNaN(bits, single)) value = QuietNaN(bits, single);
            else
            {
                double x = Operand(bits, single, reportDenormal: false);
                double rounded = mode switch
                {
                    RoundNearest => Math.Round(x, MidpointRounding.ToEven),
                    RoundDown => Math.Floor(x),
                    RoundUp => Math.Ceiling(x),
                    _ => Math.Truncate(x),
                };
                if (rounded != x && (control & 8) == 0) _simdExceptions |= MxPrecision;
                value = FromDouble(rounded, single);
            }
            result = WithLane(result, k, value, single);
        }
        CommitSimdExceptions();
        WriteXmm(i.Op0Register, result);
    }

    /// <summary>
    /// DPPS/DPPD: products of the lanes selected by imm8[7:4] (others +0.0), summed pairwise as the SDM's
    /// operation section orders it, each step rounded; the sum goes to the lanes imm8[3:0] selects, +0.0 elsewhere.
    /// </summary>
    private void DotProduct(in Instruction i, bool single)
    {
        RequireSse();
        var a = ReadXmm(i.Op0Register);
        var b = Source(in i, 1);
        byte control = i.Immediate8;
        int lanes = single ? 4 : 2;
        Span<ulong> products = stackalloc ulong[4];
        for (int k = 0; k < lanes; k++)
            products[k] = (control >> (4 + k) & 1) != 0 ? FloatArithmetic(FloatOp.Mul, Lane(a, k, single), Lane(b, k, single), single) : 0;
        ulong sum = FloatArithmetic(FloatOp.Add, products[0], products[1], single);
        if (single) sum = FloatArithmetic(FloatOp.Add, sum, FloatArithmetic(FloatOp.Add, products[2], products[3], single), single);
        var result = Vector128<ulong>.Zero;
        for (int k = 0; k < lanes; k++) if ((control >> k & 1) != 0) result = WithLane(result, k, sum, single);
        CommitSimdExceptions();
        WriteXmm(i.Op0Register, result);
    }
}
