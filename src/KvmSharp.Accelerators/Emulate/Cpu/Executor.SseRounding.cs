using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// MXCSR for SIMD floating point (SDM vol 1 §10.2.3, §11.5): rounding control, DAZ, FTZ and the six
// exception flags. .NET arithmetic always rounds to nearest, so every operation is computed as a
// round-to-nearest double `hi` plus the sign of the exact error (`lo`, from an error-free transform);
// the directed modes and single precision are derived from that pair (RoundResult). The common case,
// round-to-nearest without exceptions, costs one host operation and a few compares.
public sealed partial class Executor
{
    private const uint MxInvalid = 1, MxDenormal = 2, MxDivideByZero = 4, MxOverflow = 8, MxUnderflow = 16, MxPrecision = 32;
    private const uint MxDaz = 1 << 6, MxFtz = 1 << 15;
    private const int RoundNearest = 0, RoundDown = 1, RoundUp = 2, RoundTowardZero = 3;

    /// <summary>The exception conditions the current instruction has met, over all its lanes.</summary>
    private uint _simdExceptions;

    private int RoundingControl => (int)(_cpu.Mxcsr >> 13) & 3;

    /// <summary>
    /// Ends a floating-point instruction: with an unmasked condition, only the pre-computation flags (IE, DE,
    /// ZE) are set when one of those is unmasked, else all; the destination is left as it was and #XM is raised
    /// (#UD when CR4.OSXMMEXCPT is clear). Otherwise every condition's flag is set (SDM vol 1 §11.5.1–§11.5.3).
    /// </summary>
    private void CommitSimdExceptions()
    {
        uint raised = _simdExceptions;
        _simdExceptions = 0;
        if (raised == 0) return;
        uint unmasked = raised & ~(_cpu.Mxcsr >> 7) & 0x3F;
        if (unmasked != 0)
        {
            const uint pre = MxInvalid | MxDenormal | MxDivideByZero;
            _cpu.Mxcsr |= (unmasked & pre) != 0 ? raised & pre : raised;
            throw (_cpu.Cr4 & (1 << 10)) != 0 ? new CpuException(ExceptionVector.SimdFloatingPoint) : CpuException.InvalidOpcode();
        }
        _cpu.Mxcsr |= raised;
    }

    // ---- the two formats as bits ----------------------------------------------------------------

    private static ulong ExponentMask(bool single) => single ? 0x7F80_0000UL : 0x7FF0_0000_0000_0000UL;
    private static ulong FractionMask(bool single) => single ? 0x007F_FFFFUL : 0x000F_FFFF_FFFF_FFFFUL;
    private static ulong SignBit(bool single) => single ? 0x8000_0000UL : 0x8000_0000_0000_0000UL;
    private static ulong QuietBit(bool single) => single ? 0x0040_0000UL : 0x0008_0000_0000_0000UL;

    /// <summary>The QNaN floating-point indefinite (SDM vol 1 §4.8.3.7).</summary>
    private static ulong DefaultNaN(bool single) => single ? 0xFFC0_0000UL : 0xFFF8_0000_0000_0000UL;

    private static bool IsNaN(ulong bits, bool single) => (bits & ExponentMask(single)) == ExponentMask(single) && (bits & FractionMask(single)) != 0;
    private static bool IsSignalingNaN(ulong bits, bool single) => IsNaN(bits, single) && (bits & QuietBit(single)) == 0;
    private static bool IsDenormal(ulong bits, bool single) => (bits & ExponentMask(single)) == 0 && (bits & FractionMask(single)) != 0;

    private static double ToDouble(ulong bits, bool single) =>
        single ? BitConverter.UInt32BitsToSingle((uint)bits) : BitConverter.UInt64BitsToDouble(bits);

    private static ulong FromDouble(double value, bool single) =>
        single ? BitConverter.SingleToUInt32Bits((float)value) : BitConverter.DoubleToUInt64Bits(value);

    /// <summary>
    /// A non-NaN operand as a double: denormals become signed zeros under DAZ, else they raise the denormal
    /// condition (SDM vol 1 §10.2.3.4, §11.5.2.2).
    /// </summary>
    private double Operand(ulong bits, bool single, bool reportDenormal = true)
    {
        if (IsDenormal(bits, single))
        {
            if ((_cpu.Mxcsr & MxDaz) != 0) return (bits & SignBit(single)) != 0 ? -0.0 : 0.0;
            if (reportDenormal) _simdExceptions |= MxDenormal;
        }
        return ToDouble(bits, single);
    }

    /// <summary>
    /// Rounds the exact value hi + lo (hi = the round-to-nearest double of it, lo about the rest: its sign is what
    /// matters for double precision; single precision also uses its size, always accurate there)
    /// to the destination format under MXCSR.RC, with the overflow, underflow, precision conditions and FTZ
    /// (SDM vol 1 §4.9.1.4–§4.9.1.6, §10.2.3.3). For single precision hi is rounded again: a double holds more
    /// than twice a single's significand, so rounding to nearest twice gives the correctly rounded result.
    /// </summary>
    /// <remarks>
    /// For a double result that overflowed to ∞ in hi, <paramref name="halfHi"/> + <paramref name="halfLo"/> is the
    /// exact value halved, which tells whether rounding toward zero still overflows (at 2^1024).
    /// </remarks>
    private ulong RoundResult(double hi, double lo, bool single, double halfHi = double.PositiveInfinity, double halfLo = 0)
    {
        double result;
        double residual;
        if (single)
        {
            float f = (float)hi;
            result = f;
            residual = float.IsInfinity(f) && !double.IsInfinity(hi) ? 0 : (hi - f) + lo;
        }
        else
        {
            result = hi;
            residual = lo;
        }
        int rc = RoundingControl;
        // Callers return exact infinities (from infinite operands or division by zero) themselves: here the
        // exact value is beyond the largest finite one. Rounding toward zero, it overflows only from the next
        // power of two (2^128, 2^1024) on; below that it is the largest finite value, inexact (SDM vol 1 §4.9.1.4).
        if (double.IsInfinity(result))
        {
            bool positive = result > 0;
            bool towardZero = rc == RoundTowardZero || (rc == RoundDown && positive) || (rc == RoundUp && !positive);
            double magnitude = single ? Math.Abs(hi) : Math.Abs(halfHi), threshold = single ? 3.4028236692093846E+38 : 8.98846567431158E+307;
            double inward = single ? lo : halfLo;
            bool belowThreshold = magnitude < threshold || (magnitude == threshold && inward != 0 && (inward < 0) == positive);
            if (towardZero && belowThreshold)
            {
                _simdExceptions |= MxPrecision;
                return FromDouble(positive ? (single ? float.MaxValue : double.MaxValue) : (single ? -float.MaxValue : -double.MaxValue), single);
            }
            return Overflow(positive, single, rc);
        }
        if (residual != 0)
        {
            _simdExceptions |= MxPrecision;
            if (rc != RoundNearest)
            {
                bool up = rc == RoundUp ? residual > 0 : rc == RoundDown ? false : result < 0 && residual > 0;
                bool down = rc == RoundDown ? residual < 0 : rc == RoundUp ? false : result > 0 && residual < 0;
                if (up) result = single ? MathF.BitIncrement((float)result) : Math.BitIncrement(result);
                if (down) result = single ? MathF.BitDecrement((float)result) : Math.BitDecrement(result);
                if (double.IsInfinity(result) || (single && float.IsInfinity((float)result))) return Overflow(result > 0, single, rc);
            }
        }
        double smallestNormal = single ? 1.1754943508222875E-38 : 2.2250738585072014E-308;
        if (Math.Abs(result) < smallestNormal && (result != 0 || residual != 0))
        {
            // Tiny (SDM vol 1 §11.5.2.5): reported when also inexact while masked; FTZ returns a signed zero.
            bool masked = (_cpu.Mxcsr & (MxUnderflow << 7)) != 0;
            if (!masked) _simdExceptions |= MxUnderflow;
            else if ((_cpu.Mxcsr & MxFtz) != 0)
            {
                _simdExceptions |= MxUnderflow | MxPrecision;
                // The sign of the exact result hi + lo.
                bool negative = hi != 0 ? hi < 0 : lo != 0 ? lo < 0 : double.IsNegative(hi);
                return negative ? SignBit(single) : 0;
            }
            else if (residual != 0) _simdExceptions |= MxUnderflow;
        }
        return FromDouble(result, single);
    }

    /// <summary>The overflow result for each rounding mode: ∞ or the largest finite value (SDM vol 1 Table 4-8).</summary>
    private ulong Overflow(bool positive, bool single, int rc)
    {
        _simdExceptions |= MxOverflow | MxPrecision;
        bool infinity = rc == RoundNearest || (rc == RoundUp && positive) || (rc == RoundDown && !positive);
        double magnitude = infinity ? double.PositiveInfinity : single ? float.MaxValue : double.MaxValue;
        return FromDouble(positive ? magnitude : -magnitude, single);
    }

    /// <summary>Quiets a NaN; an SNaN raises the invalid condition (SDM vol 1 §4.8.3.5).</summary>
    private ulong QuietNaN(ulong bits, bool single)
    {
        if ((bits & QuietBit(single)) == 0) _simdExceptions |= MxInvalid;
        return bits | QuietBit(single);
    }

    // ---- error-free transforms ------------------------------------------------------------------

    private const double Scale = 1.6069380442589903E+60;   // 2^200: moves tiny operands where residuals are exact

    /// <summary>Knuth's TwoSum: the exact error of hi = a + b (exact for every finite input, subnormals too).</summary>
    private static double SumError(double a, double b, double hi)
    {
        double bVirtual = hi - a;
        double aVirtual = hi - bVirtual;
        return (a - aVirtual) + (b - bVirtual);
    }

    /// <summary>a·b − hi exactly (FMA residual); only its sign when tiny operands had to be scaled (double precision only).</summary>
    private static double ProductError(double a, double b, double hi)
    {
        if (a == 0 || b == 0) return 0;
        if (Math.Abs(hi) < 1e-250)
        {
            // A tiny product: |a|, |b| < 2^243 here, so both scale by 2^600 with an exact residual; a product
            // below every denormal (hi = 0) is inexact with the product's sign.
            if (hi == 0) return (a < 0) != (b < 0) ? -1 : 1;
            const double big = 4.149515568880993E+180;   // 2^600
            return Math.FusedMultiplyAdd(a * big, b * big, -(hi * big) * big);
        }
        if (Math.Min(Math.Abs(a), Math.Abs(b)) < 1e-250)
            return Math.Abs(a) < Math.Abs(b) ? Math.FusedMultiplyAdd(a * Scale, b, -hi * Scale) : Math.FusedMultiplyAdd(a, b * Scale, -hi * Scale);
        return Math.FusedMultiplyAdd(a, b, -hi);
    }

    /// <summary>About a/b − q (r/b with the exact remainder r; only its sign when the operands had to be scaled).</summary>
    private static double QuotientError(double a, double b, double q)
    {
        double remainder = Math.Abs(a) < 1e-250 || Math.Abs(q) < 1e-250
            ? Math.FusedMultiplyAdd(-q * Scale, b, a * Scale)
            : Math.FusedMultiplyAdd(-q, b, a);
        double error = remainder / b;
        // Only the sign is needed when the quotient of the (scaled) remainder underflows.
        return error != 0 || remainder == 0 ? error : (remainder < 0) != (b < 0) ? -double.Epsilon : double.Epsilon;
    }

    /// <summary>About √a − s: (a − s²)/(2s), from the exact a − s² (only its sign when a had to be scaled).</summary>
    private static double RootError(double a, double s) =>
        a < 1e-250 ? Math.FusedMultiplyAdd(-s * 1.2676506002282294E+30, s * 1.2676506002282294E+30, a * Scale) : Math.FusedMultiplyAdd(-s, s, a) / (2 * s);
}
