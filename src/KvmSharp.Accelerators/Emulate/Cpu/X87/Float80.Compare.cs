namespace KvmSharp.Accelerators.Emulate.Cpu.X87;

/// <summary>How two values compare; Unordered when either is a NaN or an unsupported encoding.</summary>
public enum Float80Order : byte { Less, Equal, Greater, Unordered }

// Comparison, partial remainder, scaling and exponent extraction (SDM vol 2 "FCOM", "FUCOM", "FPREM",
// "FPREM1", "FSCALE", "FXTRACT").
public static partial class Float80Math
{
    /// <summary>
    /// FCOM (<paramref name="quiet"/> false: any NaN raises IE) and FUCOM (only SNaNs and unsupported
    /// encodings do). Denormal operands raise DE; −0 equals +0.
    /// </summary>
    public static Float80Order Compare(ref X87Context c, Float80 a, Float80 b, bool quiet)
    {
        var ca = a.Classify();
        var cb = b.Classify();
        bool nanA = ca is Float80Class.QuietNaN or Float80Class.SignalingNaN or Float80Class.Unsupported;
        bool nanB = cb is Float80Class.QuietNaN or Float80Class.SignalingNaN or Float80Class.Unsupported;
        if (nanA || nanB)
        {
            if (!quiet || ca is Float80Class.SignalingNaN or Float80Class.Unsupported || cb is Float80Class.SignalingNaN or Float80Class.Unsupported)
                c.Raise(X87Context.Invalid);
            return Float80Order.Unordered;
        }
        if (ca == Float80Class.Denormal || cb == Float80Class.Denormal) c.DenormalSource = true;
        c.CommitDenormal();
        if (ca == Float80Class.Zero && cb == Float80Class.Zero) return Float80Order.Equal;
        if (a.Sign != b.Sign && !(ca == Float80Class.Zero && cb == Float80Class.Zero))
            return a.Sign ? Float80Order.Less : Float80Order.Greater;
        int magnitude = CompareMagnitude(a, ca, b, cb);
        if (a.Sign) magnitude = -magnitude;
        return magnitude < 0 ? Float80Order.Less : magnitude > 0 ? Float80Order.Greater : Float80Order.Equal;
    }

    private static int CompareMagnitude(Float80 a, Float80Class ca, Float80 b, Float80Class cb)
    {
        if (ca == Float80Class.Infinity || cb == Float80Class.Infinity)
            return (ca == Float80Class.Infinity ? 1 : 0) - (cb == Float80Class.Infinity ? 1 : 0);
        a.Unpack(out ulong sa, out int ea);
        b.Unpack(out ulong sb, out int eb);
        if (sa == 0 || sb == 0) return (sa != 0 ? 1 : 0) - (sb != 0 ? 1 : 0);
        if (ea != eb) return ea < eb ? -1 : 1;
        return sa.CompareTo(sb);
    }

    /// <summary>
    /// FPREM (<paramref name="nearest"/> false: truncating quotient) and FPREM1 (IEEE remainder). Returns the
    /// partial remainder, the quotient's low three bits and whether the reduction is complete (C2 clear). An
    /// exponent difference of 64 or more gives a partial remainder that reduces it by N bits, 32 ≤ N ≤ 63 as
    /// the SDM allows ("FPREM"): here N = 32 + (D − 32) mod 32, which keeps the last step at most 63 bits.
    /// </summary>
    public static Float80 Remainder(ref X87Context c, Float80 a, Float80 b, bool nearest, out int quotient, out bool complete)
    {
        quotient = 0;
        complete = true;
        if (Screen(ref c, a, b, out var r)) return r;
        var ca = a.Classify();
        var cb = b.Classify();
        if (ca == Float80Class.Infinity || cb == Float80Class.Zero) return c.InvalidOperation();
        c.CommitDenormal();
        if (ca == Float80Class.Zero) return a;
        a.Unpack(out ulong sa, out int ea);
        // Any finite dividend over ±∞ is its own remainder; a denormal one still underflows (UE unmasked: wrapped).
        if (cb == Float80Class.Infinity) return RoundToRegister(ref c, a.Sign, ea, sa, 64);
        b.Unpack(out ulong sb, out int eb);
        int difference = ea - eb;
        if (difference >= 64)
        {
            int n = 32 + (difference - 32) % 32;
            complete = false;
            UInt128 partial = ((UInt128)sa << n) % sb;
            return partial == UInt128.Zero ? Float80.SignedZero(a.Sign) : RoundToRegister(ref c, a.Sign, ea - n, partial, 64);
        }
        // |ST(0)| below the divisor is the remainder itself; a denormal one still underflows (UE unmasked: wrapped).
        if (difference < (nearest ? -1 : 0)) return RoundToRegister(ref c, a.Sign, ea, sa, 64);
        UInt128 numerator = (UInt128)sa << (difference + 1), denominator = (UInt128)sb << 1;
        UInt128 q = numerator / denominator, rest = numerator % denominator;
        bool sign = a.Sign;
        if (nearest && (rest * 2 > denominator || rest * 2 == denominator && (q & 1) != 0))
        {
            rest = denominator - rest;
            q++;
            sign = !sign;
        }
        quotient = (int)(q & 7);
        return rest == UInt128.Zero ? Float80.SignedZero(a.Sign) : RoundToRegister(ref c, sign, eb - 1, rest, 64);
    }

    /// <summary>FSCALE: ST(0) × 2^trunc(ST(1)), rounded only when it overflows or underflows.</summary>
    public static Float80 Scale(ref X87Context c, Float80 a, Float80 b)
    {
        if (Screen(ref c, a, b, out var r)) return r;
        var ca = a.Classify();
        var cb = b.Classify();
        if (cb == Float80Class.Infinity)
        {
            // ST(1) = −∞ shrinks to 0 (∞ × 2^−∞ is invalid); +∞ grows to ∞ (0 × 2^∞ is invalid).
            if (b.Sign ? ca == Float80Class.Infinity : ca == Float80Class.Zero) return c.InvalidOperation();
            c.CommitDenormal();
            return b.Sign ? Float80.SignedZero(a.Sign) : Float80.Infinity(a.Sign);
        }
        c.CommitDenormal();
        if (ca is Float80Class.Infinity or Float80Class.Zero) return a;
        b.Unpack(out ulong sb, out int eb);
        // |trunc(ST(1))| beyond 2^20 overflows or underflows every finite ST(0) just the same.
        long steps = sb == 0 || eb < -63 ? 0 : eb >= -43 ? 1L << 20 : (long)(sb >> -eb);
        int n = (int)Math.Min(steps, 1L << 20);
        if (b.Sign) n = -n;
        a.Unpack(out ulong sa, out int ea);
        return RoundToRegister(ref c, a.Sign, ea + n, sa, 64);
    }

    /// <summary>FXTRACT: splits ST(0) into its unbiased exponent and its significand scaled to [1, 2).</summary>
    public static (Float80 Exponent, Float80 Significand) Extract(ref X87Context c, Float80 a)
    {
        if (Screen(ref c, a, out var r)) return (r, r);
        if (a.Classify() != Float80Class.Zero) c.CommitDenormal();
        switch (a.Classify())
        {
            case Float80Class.Zero:
                c.Raise(X87Context.ZeroDivide);
                return (Float80.Infinity(true), a);
            case Float80Class.Infinity:
                return (Float80.Infinity(false), a);
        }
        a.Unpack(out ulong sa, out int ea);
        return (FromInteger(ea + 63), new Float80(sa, (ushort)(Float80.Bias | (a.Sign ? 0x8000 : 0))));
    }
}
