namespace KvmSharp.Accelerators.Emulate.Cpu.X87;

/// <summary>A binary floating-point format results are rounded into (SDM vol 1 §4.2, Table 4-3).</summary>
public readonly record struct FloatFormat(int Precision, int Bias, int MaxBiased, int WrapBias)
{
    public static readonly FloatFormat Single = new(24, 127, 254, 192);
    public static readonly FloatFormat Double = new(53, 1023, 2046, 1536);

    /// <summary>The register format with the precision-control field's significand width.</summary>
    public static FloatFormat Extended(int precision) => new(precision, Float80.Bias, 0x7FFE, 24576);
}

public static partial class Float80Math
{
    /// <summary>
    /// Rounds the exact value ±<paramref name="magnitude"/> × 2^<paramref name="scale"/> into
    /// <paramref name="format"/> under the context's rounding mode (IEEE 754 §4.3; SDM vol 1 §4.8.4). Returns
    /// the biased exponent and a significand whose integer bit is bit Precision−1 (clear for denormals and
    /// zero; exponent MaxBiased+1 means infinity). Sets PE and C1 (rounded up in magnitude), UE (tininess
    /// after rounding, as x87 detects it) and OE. With <paramref name="wrap"/> (a register destination) an
    /// unmasked overflow or underflow delivers the result with the exponent wrapped by WrapBias (SDM vol 1
    /// §4.9.1.4–5); without it an unmasked overflow or underflow returns false and nothing may be stored.
    /// </summary>
    internal static bool Round(ref X87Context c, bool sign, int scale, UInt128 magnitude, FloatFormat format, bool wrap,
        out int exponent, out ulong significand)
    {
        exponent = 0;
        significand = 0;
        // An unmasked DE found just before rounding ends the operation: no result, no PE (SDM vol 1 §4.9.2).
        if (magnitude == UInt128.Zero || c.Blocked) return true;
        int lead = 127 - (int)UInt128.LeadingZeroCount(magnitude);
        magnitude <<= 127 - lead;
        int biased = lead + scale + format.Bias;
        int drop = 128 - format.Precision;
        int mode = c.RoundingMode;
        bool tiny = false;
        if (biased < 1)
        {
            // Tininess after rounding: the result rounded with an unbounded exponent is below the smallest normal.
            UInt128 unbounded = RoundBits(magnitude, drop, sign, mode, out _);
            tiny = !(biased == 0 && unbounded >> format.Precision != UInt128.Zero);
            if (tiny && wrap && !c.Masked(X87Context.Underflow))
            {
                c.Raise(X87Context.Underflow);
                biased += format.WrapBias;
                tiny = false;
                if (biased < 1)
                {
                    // Below even the wrapped range (FSCALE): ±0 and PE (checked on hardware).
                    c.Raise(X87Context.Precision);
                    return true;
                }
            }
            else
            {
                magnitude = ShiftRightJam(magnitude, 1 - biased);
                biased = 1;
            }
        }
        UInt128 kept = RoundBits(magnitude, drop, sign, mode, out bool inexact);
        bool roundedUp = kept != magnitude >> drop;
        if (kept >> format.Precision != UInt128.Zero)
        {
            kept >>= 1;
            biased++;
        }
        if (tiny)
        {
            if (!c.Masked(X87Context.Underflow))
            {
                c.Raise(X87Context.Underflow);
                return false;
            }
            if (inexact) c.Raise(X87Context.Underflow);
        }
        if ((kept >> (format.Precision - 1)) == UInt128.Zero) biased = 0;
        if (biased > format.MaxBiased)
        {
            c.Raise(X87Context.Overflow);
            if (!c.Masked(X87Context.Overflow))
            {
                if (!wrap) return false;
                biased -= format.WrapBias;
                if (biased > format.MaxBiased)
                {
                    // Beyond even the wrapped range (only FSCALE gets there): ∞, rounded up (checked on hardware).
                    c.Raise(X87Context.Precision | X87Context.C1);
                    exponent = format.MaxBiased + 1;
                    significand = 1UL << (format.Precision - 1);
                    return true;
                }
            }
            else
            {
                // Masked overflow: ∞ or the largest finite number, by rounding direction (SDM vol 1 §4.9.1.4, Table 4-10).
                bool toInfinity = mode == 0 || mode == 1 && sign || mode == 2 && !sign;
                c.Raise(X87Context.Precision);
                if (toInfinity) c.Raise(X87Context.C1);
                exponent = toInfinity ? format.MaxBiased + 1 : format.MaxBiased;
                significand = toInfinity ? 1UL << (format.Precision - 1) : ulong.MaxValue >> (64 - format.Precision);
                return true;
            }
        }
        if (inexact)
        {
            c.Raise(X87Context.Precision);
            if (roundedUp) c.Raise(X87Context.C1);
        }
        exponent = biased;
        significand = (ulong)kept;
        return true;
    }

    /// <summary>Drops the low <paramref name="drop"/> (1–128) bits of <paramref name="value"/>, rounded by mode (0 even, 1 down, 2 up, 3 zero).</summary>
    internal static UInt128 RoundBits(UInt128 value, int drop, bool sign, int mode, out bool inexact)
    {
        // C# masks a UInt128 shift count to 7 bits, so dropping all 128 bits is spelled out.
        UInt128 kept = drop >= 128 ? UInt128.Zero : value >> drop;
        UInt128 rest = drop >= 128 ? value : value & ((UInt128.One << drop) - 1);
        UInt128 half = UInt128.One << (drop - 1);
        inexact = rest != UInt128.Zero;
        bool up = mode switch
        {
            0 => rest > half || rest == half && (kept & 1) != 0,
            1 => sign && inexact,
            2 => !sign && inexact,
            _ => false,
        };
        return up ? kept + 1 : kept;
    }

    /// <summary>Shifts right, OR-ing every bit shifted out into bit 0 (the sticky bit).</summary>
    internal static UInt128 ShiftRightJam(UInt128 value, int count)
    {
        if (count <= 0) return value;
        if (count >= 128) return value != UInt128.Zero ? UInt128.One : UInt128.Zero;
        UInt128 lost = value & ((UInt128.One << count) - 1);
        return (value >> count) | (lost != UInt128.Zero ? UInt128.One : UInt128.Zero);
    }

    /// <summary>Rounds into a register (the precision-control width, extended exponent range) and packs.</summary>
    internal static Float80 RoundToRegister(ref X87Context c, bool sign, int scale, UInt128 magnitude, int precision)
    {
        if (!Round(ref c, sign, scale, magnitude, FloatFormat.Extended(precision), wrap: true, out int exponent, out ulong significand))
            return Float80.Indefinite;   // not reached: register destinations always wrap
        if (exponent > 0x7FFE) return Float80.Infinity(sign);
        return new Float80(significand << (64 - precision), (ushort)(exponent | (sign ? 0x8000 : 0)));
    }
}
