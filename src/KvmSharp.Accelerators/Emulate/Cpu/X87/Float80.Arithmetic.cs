namespace KvmSharp.Accelerators.Emulate.Cpu.X87;

/// <summary>
/// IEEE 754 arithmetic on <see cref="Float80"/> as the x87 FPU does it (SDM vol 1 §4.8, §8.5): exact
/// intermediate results in UInt128, one rounding to the precision-control width, and the special-operand rules
/// of Table 4-7 (NaN propagation) and §8.5.1 (invalid operations).
/// </summary>
public static partial class Float80Math
{
    /// <summary>
    /// The operand checks every arithmetic instruction makes before computing (SDM vol 1 §4.8.3.5, Table 4-7):
    /// unsupported encodings and SNaNs raise IE, NaNs propagate (the QNaN, else the larger significand, quieted),
    /// denormals are noted for <see cref="X87Context.CommitDenormal"/>. True when <paramref name="result"/> is decided.
    /// </summary>
    internal static bool Screen(ref X87Context c, Float80 a, Float80 b, out Float80 result)
    {
        var ca = a.Classify();
        var cb = b.Classify();
        if (ca == Float80Class.Unsupported || cb == Float80Class.Unsupported)
        {
            result = c.InvalidOperation();
            return true;
        }
        bool nanA = ca is Float80Class.QuietNaN or Float80Class.SignalingNaN;
        bool nanB = cb is Float80Class.QuietNaN or Float80Class.SignalingNaN;
        if (nanA || nanB)
        {
            if (ca == Float80Class.SignalingNaN || cb == Float80Class.SignalingNaN) c.Raise(X87Context.Invalid);
            if (nanA && nanB && ca != cb) result = ca == Float80Class.QuietNaN ? a : b;
            else if (nanA && nanB) result = LargerNaN(a, b);
            else result = nanA ? a : b;
            result = result.Quieted();
            return true;
        }
        if (ca == Float80Class.Denormal || cb == Float80Class.Denormal) c.DenormalSource = true;
        result = default;
        return false;
    }

    private static Float80 LargerNaN(Float80 a, Float80 b)
    {
        ulong sa = a.Significand & ~Float80.QuietBit, sb = b.Significand & ~Float80.QuietBit;
        if (sa != sb) return sa > sb ? a : b;
        return !a.Sign ? a : b;   // equal significands: the positive one
    }

    /// <summary>Unary form of <see cref="Screen"/>.</summary>
    internal static bool Screen(ref X87Context c, Float80 a, out Float80 result) => Screen(ref c, a, Float80.Zero, out result);

    public static Float80 Add(ref X87Context c, Float80 a, Float80 b) =>
        Screen(ref c, a, b, out var r) ? r : AddScreened(ref c, a, b);

    public static Float80 Subtract(ref X87Context c, Float80 a, Float80 b) =>
        Screen(ref c, a, b, out var r) ? r : AddScreened(ref c, a, b.Negate());

    private static Float80 AddScreened(ref X87Context c, Float80 a, Float80 b)
    {
        var ca = a.Classify();
        var cb = b.Classify();
        if (ca == Float80Class.Infinity && cb == Float80Class.Infinity && a.Sign != b.Sign) return c.InvalidOperation();
        c.CommitDenormal();
        if (ca == Float80Class.Infinity) return a;
        if (cb == Float80Class.Infinity) return b;
        int precision = c.PrecisionBits;
        a.Unpack(out ulong sa, out int ea);
        b.Unpack(out ulong sb, out int eb);
        // An exact zero sum is +0, or −0 when rounding down; two zeros of one sign keep it (IEEE 754 §6.3).
        if (sa == 0 && sb == 0) return Float80.SignedZero(a.Sign == b.Sign ? a.Sign : c.RoundingMode == 1);
        if (sa == 0) return RoundToRegister(ref c, b.Sign, eb, sb, precision);
        if (sb == 0) return RoundToRegister(ref c, a.Sign, ea, sa, precision);
        bool signA = a.Sign, signB = b.Sign;
        if (ea < eb)
        {
            (sa, sb, ea, eb, signA, signB) = (sb, sa, eb, ea, signB, signA);
        }
        // The larger operand's integer bit at bit 125 leaves room for the carry; the other is aligned with a sticky bit.
        UInt128 ma = (UInt128)sa << 62, mb = ShiftRightJam((UInt128)sb << 62, ea - eb);
        if (signA == signB) return RoundToRegister(ref c, signA, ea - 62, ma + mb, precision);
        if (ma == mb) return Float80.SignedZero(c.RoundingMode == 1);
        return ma > mb ? RoundToRegister(ref c, signA, ea - 62, ma - mb, precision)
            : RoundToRegister(ref c, signB, ea - 62, mb - ma, precision);
    }

    public static Float80 Multiply(ref X87Context c, Float80 a, Float80 b)
    {
        if (Screen(ref c, a, b, out var r)) return r;
        bool sign = a.Sign != b.Sign;
        var ca = a.Classify();
        var cb = b.Classify();
        if ((ca == Float80Class.Infinity || cb == Float80Class.Infinity) && (ca == Float80Class.Zero || cb == Float80Class.Zero))
            return c.InvalidOperation();
        c.CommitDenormal();
        if (ca == Float80Class.Infinity || cb == Float80Class.Infinity) return Float80.Infinity(sign);
        a.Unpack(out ulong sa, out int ea);
        b.Unpack(out ulong sb, out int eb);
        if (sa == 0 || sb == 0) return Float80.SignedZero(sign);
        return RoundToRegister(ref c, sign, ea + eb, (UInt128)sa * sb, c.PrecisionBits);
    }

    public static Float80 Divide(ref X87Context c, Float80 a, Float80 b)
    {
        if (Screen(ref c, a, b, out var r)) return r;
        bool sign = a.Sign != b.Sign;
        var ca = a.Classify();
        var cb = b.Classify();
        if (ca == Float80Class.Infinity && cb == Float80Class.Infinity || ca == Float80Class.Zero && cb == Float80Class.Zero)
            return c.InvalidOperation();
        if (cb == Float80Class.Zero && ca != Float80Class.Infinity)
        {
            c.Raise(X87Context.ZeroDivide);
            return Float80.Infinity(sign);
        }
        c.CommitDenormal();
        if (ca == Float80Class.Infinity) return Float80.Infinity(sign);
        if (cb == Float80Class.Infinity) return Float80.SignedZero(sign);
        if (ca == Float80Class.Zero) return Float80.SignedZero(sign);
        a.Unpack(out ulong sa, out int ea);
        b.Unpack(out ulong sb, out int eb);
        // Two long-division steps give a 65-bit integer part and 64 fraction bits; the remainder is the sticky bit.
        UInt128 dividend = (UInt128)sa << 64;
        UInt128 q1 = dividend / sb, r1 = dividend % sb;
        UInt128 q2 = (r1 << 64) / sb, r2 = (r1 << 64) % sb;
        UInt128 magnitude = (q1 << 62) | (q2 >> 2) | ((q2 & 3) != 0 || r2 != 0 ? UInt128.One : UInt128.Zero);
        return RoundToRegister(ref c, sign, ea - eb - 64 - 62, magnitude, c.PrecisionBits);
    }

    public static Float80 SquareRoot(ref X87Context c, Float80 a)
    {
        if (Screen(ref c, a, out var r)) return r;
        var ca = a.Classify();
        if (ca == Float80Class.Zero) return a;
        if (a.Sign) return c.InvalidOperation();
        c.CommitDenormal();
        if (ca == Float80Class.Infinity) return a;
        a.Unpack(out ulong sa, out int ea);
        // value = sa × 2^ea; make the exponent even so the root of the power of two is exact.
        UInt128 radicand = (ea & 1) == 0 ? (UInt128)sa << 64 : (UInt128)sa << 63;
        int half = ((ea & 1) == 0 ? ea - 64 : ea - 63) / 2;
        ulong root = IntegerSquareRoot(radicand);
        UInt128 rest = radicand - (UInt128)root * root;
        // sqrt = root + f: the guard bit is f ≥ ½, i.e. rest > root; f is never exactly ½, so any rest is sticky.
        UInt128 magnitude = ((UInt128)root << 64) | (rest > root ? UInt128.One << 63 : UInt128.Zero) | (rest != UInt128.Zero ? UInt128.One : UInt128.Zero);
        return RoundToRegister(ref c, false, half - 64, magnitude, c.PrecisionBits);
    }

    /// <summary>floor(√value) for value below 2^128.</summary>
    private static ulong IntegerSquareRoot(UInt128 value)
    {
        ulong root = (ulong)Math.Min(Math.Sqrt((double)value), 18446744073709551615.0);
        while ((UInt128)root * root > value) root--;
        while (root != ulong.MaxValue && (UInt128)(root + 1) * (root + 1) <= value) root++;
        return root;
    }

    /// <summary>FRNDINT: rounds to an integer by the rounding control (SDM vol 2 "FRNDINT").</summary>
    public static Float80 RoundToInteger(ref X87Context c, Float80 a)
    {
        if (Screen(ref c, a, out var r)) return r;
        c.CommitDenormal();
        if (c.Blocked || a.Classify() is Float80Class.Zero or Float80Class.Infinity) return a;
        a.Unpack(out ulong sa, out int ea);
        if (ea >= 0) return a;
        UInt128 integer = RoundToIntegerBits(ref c, a.Sign, sa, ea, c.RoundingMode);
        return integer == UInt128.Zero ? Float80.SignedZero(a.Sign) : RoundToRegister(ref c, a.Sign, 0, integer, 64);
    }

    /// <summary>
    /// sa × 2^scale (scale &lt; 0) rounded to an integer by <paramref name="mode"/>; raises PE and C1 when inexact.
    /// </summary>
    internal static UInt128 RoundToIntegerBits(ref X87Context c, bool sign, ulong sa, int scale, int mode)
    {
        UInt128 value = (UInt128)sa << 64;
        int drop = 64 - scale;
        if (drop > 128)
        {
            value = UInt128.One;   // below ½: only the sticky bit matters
            drop = 2;
        }
        UInt128 integer = RoundBits(value, drop, sign, mode, out bool inexact);
        if (inexact)
        {
            c.Raise(X87Context.Precision);
            if (drop < 128 ? integer != value >> drop : integer != UInt128.Zero) c.Raise(X87Context.C1);
        }
        return integer;
    }
}
