using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// SSE/SSE2/SSE3 floating-point arithmetic and compares (SDM vol 1 §10.4.2, §11.4.1, §12.4), packed and
// scalar, single and double precision, lane by lane through FloatArithmetic with the SSE NaN rules and
// MXCSR (Executor.SseRounding.cs). A scalar operation keeps the destination's other lanes.
public sealed partial class Executor
{
    private enum FloatOp : byte { Add, Sub, Mul, Div, Sqrt, Min, Max }

    /// <summary>Which lanes an instruction computes and from what: vertical lane pairs, the low lane only, adjacent pairs (HADD/HSUB), or SUB/ADD alternating.</summary>
    private enum FloatShape : byte { Packed, Scalar, Horizontal, AddSub }

    private bool TryExecuteSseFloat(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Addps: Float(in i, FloatOp.Add, true, FloatShape.Packed); return true;
            case Mnemonic.Addpd: Float(in i, FloatOp.Add, false, FloatShape.Packed); return true;
            case Mnemonic.Addss: Float(in i, FloatOp.Add, true, FloatShape.Scalar); return true;
            case Mnemonic.Addsd: Float(in i, FloatOp.Add, false, FloatShape.Scalar); return true;
            case Mnemonic.Subps: Float(in i, FloatOp.Sub, true, FloatShape.Packed); return true;
            case Mnemonic.Subpd: Float(in i, FloatOp.Sub, false, FloatShape.Packed); return true;
            case Mnemonic.Subss: Float(in i, FloatOp.Sub, true, FloatShape.Scalar); return true;
            case Mnemonic.Subsd: Float(in i, FloatOp.Sub, false, FloatShape.Scalar); return true;
            case Mnemonic.Mulps: Float(in i, FloatOp.Mul, true, FloatShape.Packed); return true;
            case Mnemonic.Mulpd: Float(in i, FloatOp.Mul, false, FloatShape.Packed); return true;
            case Mnemonic.Mulss: Float(in i, FloatOp.Mul, true, FloatShape.Scalar); return true;
            case Mnemonic.Mulsd: Float(in i, FloatOp.Mul, false, FloatShape.Scalar); return true;
            case Mnemonic.Divps: Float(in i, FloatOp.Div, true, FloatShape.Packed); return true;
            case Mnemonic.Divpd: Float(in i, FloatOp.Div, false, FloatShape.Packed); return true;
            case Mnemonic.Divss: Float(in i, FloatOp.Div, true, FloatShape.Scalar); return true;
            case Mnemonic.Divsd: Float(in i, FloatOp.Div, false, FloatShape.Scalar); return true;
            case Mnemonic.Sqrtps: Float(in i, FloatOp.Sqrt, true, FloatShape.Packed); return true;
            case Mnemonic.Sqrtpd: Float(in i, FloatOp.Sqrt, false, FloatShape.Packed); return true;
            case Mnemonic.Sqrtss: Float(in i, FloatOp.Sqrt, true, FloatShape.Scalar); return true;
            case Mnemonic.Sqrtsd: Float(in i, FloatOp.Sqrt, false, FloatShape.Scalar); return true;
            case Mnemonic.Minps: Float(in i, FloatOp.Min, true, FloatShape.Packed); return true;
            case Mnemonic.Minpd: Float(in i, FloatOp.Min, false, FloatShape.Packed); return true;
            case Mnemonic.Minss: Float(in i, FloatOp.Min, true, FloatShape.Scalar); return true;
            case Mnemonic.Minsd: Float(in i, FloatOp.Min, false, FloatShape.Scalar); return true;
            case Mnemonic.Maxps: Float(in i, FloatOp.Max, true, FloatShape.Packed); return true;
            case Mnemonic.Maxpd: Float(in i, FloatOp.Max, false, FloatShape.Packed); return true;
            case Mnemonic.Maxss: Float(in i, FloatOp.Max, true, FloatShape.Scalar); return true;
            case Mnemonic.Maxsd: Float(in i, FloatOp.Max, false, FloatShape.Scalar); return true;
            case Mnemonic.Haddps: Float(in i, FloatOp.Add, true, FloatShape.Horizontal); return true;
            case Mnemonic.Haddpd: Float(in i, FloatOp.Add, false, FloatShape.Horizontal); return true;
            case Mnemonic.Hsubps: Float(in i, FloatOp.Sub, true, FloatShape.Horizontal); return true;
            case Mnemonic.Hsubpd: Float(in i, FloatOp.Sub, false, FloatShape.Horizontal); return true;
            case Mnemonic.Addsubps: Float(in i, FloatOp.Add, true, FloatShape.AddSub); return true;
            case Mnemonic.Addsubpd: Float(in i, FloatOp.Add, false, FloatShape.AddSub); return true;
            case Mnemonic.Cmpps: FloatCompare(in i, true, scalar: false); return true;
            case Mnemonic.Cmppd: FloatCompare(in i, false, scalar: false); return true;
            case Mnemonic.Cmpss: FloatCompare(in i, true, scalar: true); return true;
            case Mnemonic.Cmpsd when i.Op0Kind == OpKind.Register: FloatCompare(in i, false, scalar: true); return true;
            case Mnemonic.Comiss: case Mnemonic.Ucomiss: OrderedCompare(in i, true); return true;
            case Mnemonic.Comisd: case Mnemonic.Ucomisd: OrderedCompare(in i, false); return true;
            case Mnemonic.Rcpps: Estimate(in i, reciprocalRoot: false, scalar: false); return true;
            case Mnemonic.Rcpss: Estimate(in i, reciprocalRoot: false, scalar: true); return true;
            case Mnemonic.Rsqrtps: Estimate(in i, reciprocalRoot: true, scalar: false); return true;
            case Mnemonic.Rsqrtss: Estimate(in i, reciprocalRoot: true, scalar: true); return true;
            default: return false;
        }
    }

    private static ulong Lane(Vector128<ulong> v, int k, bool single) =>
        single ? v.AsUInt32().GetElement(k) : v.GetElement(k);

    private static Vector128<ulong> WithLane(Vector128<ulong> v, int k, ulong value, bool single) =>
        single ? v.AsUInt32().WithElement(k, (uint)value).AsUInt64() : v.WithElement(k, value);

    private void Float(in Instruction i, FloatOp op, bool single, FloatShape shape)
    {
        RequireSse();
        var a = ReadXmm(i.Op0Register);
        var b = Source(in i, 1);
        int lanes = shape == FloatShape.Scalar ? 1 : single ? 4 : 2;
        var result = a;
        for (int k = 0; k < lanes; k++)
        {
            ulong value = shape switch
            {
                FloatShape.Horizontal => k < lanes / 2
                    ? FloatArithmetic(op, Lane(a, 2 * k, single), Lane(a, 2 * k + 1, single), single)
                    : FloatArithmetic(op, Lane(b, 2 * k - lanes, single), Lane(b, 2 * k - lanes + 1, single), single),
                FloatShape.AddSub => FloatArithmetic((k & 1) == 0 ? FloatOp.Sub : FloatOp.Add, Lane(a, k, single), Lane(b, k, single), single),
                _ => FloatArithmetic(op, Lane(a, k, single), Lane(b, k, single), single),
            };
            result = WithLane(result, k, value, single);
        }
        CommitSimdExceptions();
        WriteXmm(i.Op0Register, result);
    }

    /// <summary>
    /// One lane of ADD/SUB/MUL/DIV/SQRT/MIN/MAX. NaNs (SDM vol 1 Table 4-7): the first source's NaN, else the
    /// second's, quieted (SQRT looks only at its source); an SNaN, ∞−∞, 0·∞, 0/0, ∞/∞ or √negative raises IE,
    /// the invalid operations returning the QNaN indefinite. MIN/MAX return the second source when either is a
    /// NaN or both are zeros, and raise IE for any NaN (SDM "MINPS", "MAXPS").
    /// </summary>
    private ulong FloatArithmetic(FloatOp op, ulong a, ulong b, bool single)
    {
        if (op is FloatOp.Min or FloatOp.Max)
        {
            if (IsNaN(a, single) || IsNaN(b, single))
            {
                _simdExceptions |= MxInvalid;
                return IsNaN(b, single) ? b : FromDouble(Operand(b, single, reportDenormal: false), single);
            }
            double p = Operand(a, single), q = Operand(b, single);
            bool first = op == FloatOp.Min ? p < q : p > q;
            return FromDouble(first ? p : q, single);
        }
        bool unary = op == FloatOp.Sqrt;
        bool aNaN = !unary && IsNaN(a, single), bNaN = IsNaN(b, single);
        if (aNaN || bNaN)
        {
            if ((!unary && IsSignalingNaN(a, single)) || IsSignalingNaN(b, single)) _simdExceptions |= MxInvalid;
            return (aNaN ? a : b) | QuietBit(single);
        }
        // A denormal operand is reported only when the operation is not invalid and divides no number by zero
        // (SDM vol 1 §4.9.2: IE and ZE take precedence over DE).
        double x = unary ? 0 : Operand(a, single, reportDenormal: false), y = Operand(b, single, reportDenormal: false);
        uint denormal = ((!unary && IsDenormal(a, single)) || IsDenormal(b, single)) && (_cpu.Mxcsr & MxDaz) == 0 ? MxDenormal : 0;
        double hi, lo;
        switch (op)
        {
            case FloatOp.Add: case FloatOp.Sub:
                if (op == FloatOp.Sub) y = -y;
                hi = x + y;
                if (double.IsNaN(hi)) return Invalid(single);
                _simdExceptions |= denormal;
                if (double.IsInfinity(x) || double.IsInfinity(y)) return FromDouble(hi, single);
                lo = double.IsInfinity(hi) ? 0 : SumError(x, y, hi);
                break;
            case FloatOp.Mul:
                hi = x * y;
                if (double.IsNaN(hi)) return Invalid(single);
                _simdExceptions |= denormal;
                if (double.IsInfinity(x) || double.IsInfinity(y)) return FromDouble(hi, single);
                lo = double.IsInfinity(hi) ? 0 : ProductError(x, y, hi);
                break;
            case FloatOp.Div:
                hi = x / y;
                if (double.IsNaN(hi)) return Invalid(single);
                if (double.IsInfinity(x) || double.IsInfinity(y)) { _simdExceptions |= denormal; return FromDouble(hi, single); }   // ∞/0 is an exact ∞
                if (y == 0) { _simdExceptions |= MxDivideByZero; return FromDouble(hi, single); }
                _simdExceptions |= denormal;
                lo = double.IsInfinity(hi) ? 0 : QuotientError(x, y, hi);
                break;
            default:
                if (y < 0) return Invalid(single);
                _simdExceptions |= denormal;
                hi = Math.Sqrt(y);
                if (double.IsInfinity(y) || y == 0) return FromDouble(hi, single);
                lo = RootError(y, hi);
                break;
        }
        if (!single && double.IsInfinity(hi) && RoundingControl != RoundNearest)
        {
            // Overflowed: the exact value halved (exact at these magnitudes) says whether it reaches 2^1024.
            double half = x * 0.5, halfHi = op switch { FloatOp.Mul => half * y, FloatOp.Div => half / y, _ => half + y * 0.5 };
            double halfLo = op switch
            {
                FloatOp.Mul => Math.FusedMultiplyAdd(half, y, -halfHi),
                FloatOp.Div => QuotientError(half, y, halfHi),
                _ => SumError(half, y * 0.5, halfHi),
            };
            return RoundResult(hi, lo, single, halfHi, double.IsInfinity(halfHi) ? 0 : halfLo);
        }
        // An exact zero sum is +0 except under round-down, where it is −0 unless both addends are +0 (IEEE 754 §6.3).
        if (hi == 0 && lo == 0 && (op is FloatOp.Add or FloatOp.Sub) && RoundingControl == RoundDown && (double.IsNegative(x) || double.IsNegative(y) || x != 0))
            hi = -0.0;
        return RoundResult(hi, lo, single);
    }

    private ulong Invalid(bool single)
    {
        _simdExceptions |= MxInvalid;
        return DefaultNaN(single);
    }

    /// <summary>
    /// CMPPS/CMPPD/CMPSS/CMPSD: all ones where the predicate imm8[2:0] holds (EQ, LT, LE, UNORD, NEQ, NLT, NLE,
    /// ORD); LT/LE/NLT/NLE raise IE for any NaN, the others for an SNaN (SDM "CMPPS", Table 3-1).
    /// </summary>
    private void FloatCompare(in Instruction i, bool single, bool scalar)
    {
        RequireSse();
        var a = ReadXmm(i.Op0Register);
        var b = Source(in i, 1);
        int predicate = i.Immediate8 & 7;
        int lanes = scalar ? 1 : single ? 4 : 2;
        var result = a;
        for (int k = 0; k < lanes; k++)
        {
            bool holds = ComparePredicate(Lane(a, k, single), Lane(b, k, single), single, predicate);
            result = WithLane(result, k, holds ? Mask(single ? 4 : 8) : 0, single);
        }
        CommitSimdExceptions();
        WriteXmm(i.Op0Register, result);
    }

    private bool ComparePredicate(ulong a, ulong b, bool single, int predicate)
    {
        bool signaling = predicate is 1 or 2 or 5 or 6;
        if (IsNaN(a, single) || IsNaN(b, single))
        {
            if (signaling || IsSignalingNaN(a, single) || IsSignalingNaN(b, single)) _simdExceptions |= MxInvalid;
            return predicate is 3 or 4 or 5 or 6;   // UNORD, NEQ, NLT, NLE hold for unordered operands
        }
        double x = Operand(a, single), y = Operand(b, single);
        return predicate switch
        {
            0 => x == y,
            1 => x < y,
            2 => x <= y,
            3 => false,
            4 => x != y,
            5 => !(x < y),
            6 => !(x <= y),
            _ => true,
        };
    }

    /// <summary>COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF as unordered/less/equal; OF, SF, AF cleared; COMI* raise IE for a QNaN too.</summary>
    private void OrderedCompare(in Instruction i, bool single)
    {
        RequireSse();
        ulong a = Lane(ReadXmm(i.Op0Register), 0, single), b = Lane(Source(in i, 1), 0, single);
        ulong flags;
        if (IsNaN(a, single) || IsNaN(b, single))
        {
            bool signaling = i.Mnemonic is Mnemonic.Comiss or Mnemonic.Comisd;
            if (signaling || IsSignalingNaN(a, single) || IsSignalingNaN(b, single)) _simdExceptions |= MxInvalid;
            flags = LazyFlags.ZF | LazyFlags.PF | LazyFlags.CF;
        }
        else
        {
            double x = Operand(a, single), y = Operand(b, single);
            flags = x < y ? LazyFlags.CF : x == y ? LazyFlags.ZF : 0;
        }
        CommitSimdExceptions();
        _cpu.Flags.Store(flags);
    }

    /// <summary>
    /// RCPPS/RCPSS/RSQRTPS/RSQRTSS: approximations whose exact bits the SDM leaves to the implementation (relative
    /// error ≤ 1.5·2⁻¹²). This CPU returns the single nearest to 1/x (1/√x: 1/the single nearest to √x, as QEMU), a
    /// denormal input counts as ±0 (giving ±∞), a tiny result is flushed to ±0, no MXCSR flag is set (SDM "RCPPS").
    /// </summary>
    private void Estimate(in Instruction i, bool reciprocalRoot, bool scalar)
    {
        RequireSse();
        var a = ReadXmm(i.Op0Register).AsUInt32();
        var b = Source(in i, 1).AsUInt32();
        var result = a;
        for (int k = 0; k < (scalar ? 1 : 4); k++)
        {
            uint bits = b.GetElement(k);
            float x = IsDenormal(bits, true) ? ((bits & 0x8000_0000) != 0 ? -0f : 0f) : BitConverter.UInt32BitsToSingle(bits);
            float value;
            if (float.IsNaN(x)) value = BitConverter.UInt32BitsToSingle(bits | 0x0040_0000);
            else if (reciprocalRoot) value = x < 0 ? BitConverter.UInt32BitsToSingle(0xFFC0_0000) : (float)(1.0 / MathF.Sqrt(x));
            else value = (float)(1.0 / x);
            if (float.IsSubnormal(value)) value = float.IsNegative(value) ? -0f : 0f;
            result = result.WithElement(k, BitConverter.SingleToUInt32Bits(value));
        }
        WriteXmm(i.Op0Register, result.AsUInt64());
    }
}
