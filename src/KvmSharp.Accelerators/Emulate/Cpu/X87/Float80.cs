namespace KvmSharp.Accelerators.Emulate.Cpu.X87;

/// <summary>What an 80-bit register holds (SDM vol 1 §8.2.2, Table 8-3).</summary>
public enum Float80Class : byte
{
    Zero,
    /// <summary>Exponent 0, significand non-zero: a denormal, or a pseudo-denormal when the integer bit is set.</summary>
    Denormal,
    Normal,
    Infinity,
    QuietNaN,
    SignalingNaN,
    /// <summary>Pseudo-NaN, pseudo-infinity, unnormal: encodings the FPU rejects with #IA (SDM vol 1 §8.2.2).</summary>
    Unsupported,
}

/// <summary>
/// The x87 double extended-precision format (SDM vol 1 §4.2.2): a 64-bit significand with an explicit integer
/// bit, a 15-bit exponent biased by 16383 and a sign. The value type of the FPU registers and of m80fp.
/// </summary>
public readonly record struct Float80(ulong Significand, ushort SignExponent)
{
    public const int Bias = 16383, MaxExponent = 0x7FFF;
    public const ulong IntegerBit = 1UL << 63, QuietBit = 1UL << 62;

    /// <summary>The "real indefinite" QNaN a masked invalid operation returns (SDM vol 1 §4.8.3.7).</summary>
    public static readonly Float80 Indefinite = new(0xC000_0000_0000_0000, 0xFFFF);

    public static readonly Float80 Zero = new(0, 0), One = new(IntegerBit, Bias);

    public bool Sign => SignExponent >> 15 != 0;
    public int Exponent => SignExponent & MaxExponent;

    public static Float80 Infinity(bool sign) => new(IntegerBit, (ushort)(MaxExponent | (sign ? 0x8000 : 0)));
    public static Float80 SignedZero(bool sign) => new(0, (ushort)(sign ? 0x8000 : 0));

    public Float80 Negate() => new(Significand, (ushort)(SignExponent ^ 0x8000));
    public Float80 Abs() => new(Significand, (ushort)(SignExponent & MaxExponent));
    public Float80 WithSign(bool sign) => new(Significand, (ushort)(Exponent | (sign ? 0x8000 : 0)));
    public Float80 Quieted() => new(Significand | QuietBit, SignExponent);

    public Float80Class Classify()
    {
        int exponent = Exponent;
        bool integer = (Significand & IntegerBit) != 0;
        if (exponent == 0) return Significand == 0 ? Float80Class.Zero : Float80Class.Denormal;
        if (!integer) return Float80Class.Unsupported;
        if (exponent != MaxExponent) return Float80Class.Normal;
        if ((Significand << 1) == 0) return Float80Class.Infinity;
        return (Significand & QuietBit) != 0 ? Float80Class.QuietNaN : Float80Class.SignalingNaN;
    }

    /// <summary>
    /// A finite value as significand × 2^scale with the significand normalized (bit 63 set); zero gives 0.
    /// Denormals use the minimum exponent (SDM vol 1 §4.8.3.2).
    /// </summary>
    internal void Unpack(out ulong significand, out int scale)
    {
        significand = Significand;
        scale = Math.Max(Exponent, 1) - Bias - 63;
        if (significand == 0) return;
        int shift = System.Numerics.BitOperations.LeadingZeroCount(significand);
        significand <<= shift;
        scale -= shift;
    }

    public override string ToString() => $"{SignExponent:X4}:{Significand:X16}";
}
