namespace KvmSharp.Accelerators.Emulate.Cpu.X87;

// Conversions between the register format and the memory formats x87 loads and stores (SDM vol 1 §4.2, §8.5;
// vol 2 "FLD", "FST", "FILD", "FIST", "FISTTP", "FBLD", "FBSTP").
public static partial class Float80Math
{
    /// <summary>FILD: every 16/32/64-bit integer is exact in 64 significand bits.</summary>
    public static Float80 FromInteger(long value)
    {
        if (value == 0) return Float80.Zero;
        bool sign = value < 0;
        ulong magnitude = sign ? (ulong)-value : (ulong)value;   // long.MinValue negates to itself: 2^63 as ulong
        int shift = System.Numerics.BitOperations.LeadingZeroCount(magnitude);
        return new Float80(magnitude << shift, (ushort)((Float80.Bias + 63 - shift) | (sign ? 0x8000 : 0)));
    }

    /// <summary>
    /// FIST/FISTP (rounding control) and FISTTP (<paramref name="truncate"/>) into a signed integer of
    /// <paramref name="bits"/>. NaN, ∞ and out-of-range values raise IE and give the integer indefinite
    /// (only the sign bit set, SDM vol 1 §4.8.3.7).
    /// </summary>
    public static long ToInteger(ref X87Context c, Float80 a, int bits, bool truncate)
    {
        long indefinite = long.MinValue >> (64 - bits);
        var ca = a.Classify();
        if (ca is Float80Class.Unsupported or Float80Class.QuietNaN or Float80Class.SignalingNaN or Float80Class.Infinity)
        {
            c.Raise(X87Context.Invalid);
            return indefinite;
        }
        a.Unpack(out ulong sa, out int ea);
        if (sa == 0) return 0;
        var probe = c;   // PE/C1 count only when the value fits
        UInt128 integer = ea >= 0 ? (ea >= 64 ? UInt128.MaxValue : (UInt128)sa << ea)
            : RoundToIntegerBits(ref probe, a.Sign, sa, ea, truncate ? 3 : c.RoundingMode);
        UInt128 limit = a.Sign ? UInt128.One << (bits - 1) : (UInt128.One << (bits - 1)) - 1;
        if (integer > limit)
        {
            c.Raise(X87Context.Invalid);
            return indefinite;
        }
        c.Status = probe.Status;
        long value = (long)(ulong)integer;
        return a.Sign ? -value : value;
    }

    /// <summary>
    /// m32fp/m64fp to the register format: exact widening; a denormal raises DE. An SNaN stays signalling, so the
    /// arithmetic that reads it applies the NaN rules of Table 4-7; FLD quiets it (<see cref="QuietForLoad"/>).
    /// </summary>
    public static Float80 FromBinary(ref X87Context c, ulong bits, FloatFormat format)
    {
        int fractionBits = format.Precision - 1;
        int exponentBits = format.Precision == 24 ? 8 : 11;
        bool sign = (bits >> (fractionBits + exponentBits) & 1) != 0;
        int exponent = (int)(bits >> fractionBits) & ((1 << exponentBits) - 1);
        ulong fraction = bits & ((1UL << fractionBits) - 1);
        ushort signBit = (ushort)(sign ? 0x8000 : 0);
        if (exponent == (1 << exponentBits) - 1)
        {
            return new Float80(Float80.IntegerBit | fraction << (63 - fractionBits), (ushort)(0x7FFF | signBit));
        }
        if (exponent == 0)
        {
            if (fraction == 0) return Float80.SignedZero(sign);
            c.DenormalSource = true;
            int shift = System.Numerics.BitOperations.LeadingZeroCount(fraction);
            int unbiased = 1 - format.Bias - (shift - (63 - fractionBits));
            return new Float80(fraction << shift, (ushort)((unbiased + Float80.Bias) | signBit));
        }
        return new Float80(Float80.IntegerBit | fraction << (63 - fractionBits), (ushort)((exponent - format.Bias + Float80.Bias) | signBit));
    }

    /// <summary>FLD of an m32fp/m64fp SNaN raises IE and loads it quieted (SDM vol 2 "FLD", #IA).</summary>
    public static Float80 QuietForLoad(ref X87Context c, Float80 value)
    {
        if (value.Classify() != Float80Class.SignalingNaN) return value;
        c.Raise(X87Context.Invalid);
        return value.Quieted();
    }

    /// <summary>
    /// FST m32fp/m64fp: rounds into the memory format. False when an unmasked exception leaves memory unchanged.
    /// </summary>
    public static bool ToBinary(ref X87Context c, Float80 a, FloatFormat format, out ulong bits)
    {
        int fractionBits = format.Precision - 1;
        int exponentBits = format.Precision == 24 ? 8 : 11;
        ulong signBit = a.Sign ? 1UL << (fractionBits + exponentBits) : 0;
        ulong maxExponent = (1UL << exponentBits) - 1;
        switch (a.Classify())
        {
            case Float80Class.Unsupported:
                c.Raise(X87Context.Invalid);
                bits = (1UL << (fractionBits + exponentBits)) | maxExponent << fractionBits | 1UL << (fractionBits - 1);
                return c.Masked(X87Context.Invalid);
            case Float80Class.SignalingNaN or Float80Class.QuietNaN:
                if (a.Classify() == Float80Class.SignalingNaN) c.Raise(X87Context.Invalid);
                bits = signBit | maxExponent << fractionBits | ((a.Significand | Float80.QuietBit) << 1 >> (64 - fractionBits));
                return !c.Blocked;
            case Float80Class.Infinity:
                bits = signBit | maxExponent << fractionBits;
                return true;
            case Float80Class.Zero:
                bits = signBit;
                return true;
        }
        a.Unpack(out ulong sa, out int ea);
        bits = 0;
        if (!Round(ref c, a.Sign, ea, sa, format, wrap: false, out int exponent, out ulong significand)) return false;
        bits = signBit | (ulong)exponent << fractionBits | (significand & ((1UL << fractionBits) - 1));
        return true;
    }

    /// <summary>FBLD: 18 packed BCD digits and a sign byte (SDM vol 1 §4.7); invalid digits give an undefined value.</summary>
    public static Float80 FromPackedBcd(ulong low, ushort high)
    {
        long value = 0;
        for (int n = 8; n >= 0; n--)
        {
            int pair = n == 8 ? high & 0xFF : (int)(low >> (8 * n)) & 0xFF;
            value = value * 100 + (pair >> 4) * 10 + (pair & 15);
        }
        var result = FromInteger(value);
        return (high & 0x8000) != 0 ? result.WithSign(true) : result;
    }

    /// <summary>FBSTP: rounds by the rounding control; beyond 18 digits raises IE and stores the BCD indefinite.</summary>
    public static bool ToPackedBcd(ref X87Context c, Float80 a, out ulong low, out ushort high)
    {
        (low, high) = (0xC000_0000_0000_0000, 0xFFFF);   // the packed BCD integer indefinite
        if (a.Classify() is not (Float80Class.Zero or Float80Class.Denormal or Float80Class.Normal))
        {
            c.Raise(X87Context.Invalid);
            return c.Masked(X87Context.Invalid);
        }
        var probe = c;
        a.Unpack(out ulong sa, out int ea);
        UInt128 integer = sa == 0 ? UInt128.Zero : ea >= 0 ? (ea >= 64 ? UInt128.MaxValue : (UInt128)sa << ea)
            : RoundToIntegerBits(ref probe, a.Sign, sa, ea, c.RoundingMode);
        if (integer > 999_999_999_999_999_999)
        {
            c.Raise(X87Context.Invalid);
            return c.Masked(X87Context.Invalid);
        }
        c.Status = probe.Status;
        ulong value = (ulong)integer;
        (low, high) = (0, (ushort)(a.Sign ? 0x8000 : 0));
        for (int n = 0; n < 9; n++)
        {
            ulong pair = value % 10 | (value / 10 % 10) << 4;
            value /= 100;
            if (n < 8) low |= pair << (8 * n);
            else high |= (ushort)pair;
        }
        return !c.Blocked;
    }
}
