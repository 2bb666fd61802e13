namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>The kind of the last flag-setting operation; flags are computed from it only when read.</summary>
public enum FlagOp : byte
{
    /// <summary>The six arithmetic flags are stored as they are in <see cref="LazyFlags.Materialized"/>.</summary>
    None,
    Add, Adc, Sub, Sbb, Logic, Inc, Dec, Neg,
    /// <summary>Shifts and rotates store their CF/OF in Materialized and let ZF/SF/PF follow the result.</summary>
    ShiftResult,
    /// <summary>MUL/IMUL: CF=OF=Materialized's, the rest (undefined by the SDM) follow the result as hardware does.</summary>
    MulResult,
    /// <summary>SHL/SAL, SHR, SAR by a non-zero count: Left is the value shifted, Right the (masked) count; CF and OF are computed when read.</summary>
    Shl, Shr, Sar,
}

/// <summary>
/// RFLAGS' arithmetic flags (CF PF AF ZF SF OF, Intel SDM vol 1 §3.4.3.1) kept lazily: an ALU instruction
/// records its operands and result, and a flag is computed only when something reads it. Most results
/// are overwritten before any branch looks at them, so this saves most of the flag work.
/// </summary>
public struct LazyFlags
{
    public const ulong CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, OF = 1 << 11;
    public const ulong ArithmeticMask = CF | PF | AF | ZF | SF | OF;

    public FlagOp Op;
    /// <summary>Operand size in bytes: 1, 2, 4 or 8.</summary>
    public byte Size;
    public ulong Result, Left, Right;
    /// <summary>Flags stored directly (Op = None), or the carry-in / CF / OF an op needs besides its operands.</summary>
    public ulong Materialized;

    // INC and DEC keep CF (SDM "INC") and record only Op, Size and Result: Left, Right and Materialized stay
    // those of the instruction that last set CF, whose kind and size move here, so CF is computed from them
    // only if something reads it (most INC/DEC feed a JNZ). Their own operand is Result ∓ 1.
    public FlagOp CarryOp;
    public byte CarrySize;

    public void Set(FlagOp op, int size, ulong result, ulong left, ulong right)
    {
        Op = op;
        Size = (byte)size;
        Result = result;
        Left = left;
        Right = right;
    }

    /// <summary>A copy field by field (a whole-struct copy right after the fields were written stalls store forwarding).</summary>
    public void CopyFrom(in LazyFlags other)
    {
        Op = other.Op;
        Size = other.Size;
        Result = other.Result;
        Left = other.Left;
        Right = other.Right;
        Materialized = other.Materialized;
        CarryOp = other.CarryOp;
        CarrySize = other.CarrySize;
    }

    /// <summary>Records INC (<paramref name="op"/> = Inc) or DEC: the five flags from the result, CF left lazily as it was.</summary>
    public void SetIncDec(FlagOp op, int size, ulong result)
    {
        if (Op is not (FlagOp.Inc or FlagOp.Dec))
        {
            CarryOp = Op;
            CarrySize = Size;
        }
        Op = op;
        Size = (byte)size;
        Result = result;
    }

    /// <summary>Stores explicit flag values (POPF, SAHF, IRET, a register load).</summary>
    public void Store(ulong rflags)
    {
        Op = FlagOp.None;
        Materialized = rflags & ArithmeticMask;
    }

    private readonly ulong SignBit => 1UL << (Size * 8 - 1);
    private readonly ulong Mask => Size == 8 ? ulong.MaxValue : (1UL << (Size * 8)) - 1;

    public readonly bool Carry => Op is FlagOp.Inc or FlagOp.Dec
        ? CarryOf(CarryOp, CarrySize, Left, Right, Materialized)
        : CarryOf(Op, Size, Left, Right, Materialized);

    /// <summary>CF after an operation of kind <paramref name="op"/> on these operands (the result follows from them).</summary>
    private static bool CarryOf(FlagOp op, byte size, ulong left, ulong right, ulong materialized)
    {
        int bits = size * 8;
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << bits) - 1;
        bool carryIn = (materialized & CF) != 0;
        switch (op)
        {
            case FlagOp.None or FlagOp.ShiftResult or FlagOp.MulResult:
                return carryIn;
            case FlagOp.Add:
                return ((left + right) & mask) < (left & mask);
            case FlagOp.Adc:
                ulong sum = (left + right + (carryIn ? 1UL : 0)) & mask;
                return carryIn ? sum <= (left & mask) : sum < (left & mask);
            case FlagOp.Sub:
                return (left & mask) < (right & mask);
            case FlagOp.Sbb:
                return carryIn ? (left & mask) <= (right & mask) : (left & mask) < (right & mask);
            case FlagOp.Neg:
                return (right & mask) != 0;
            case FlagOp.Shl:
                // The last bit shifted out; none is left once the count passes the width.
                return (int)right <= bits && ((left >> (bits - (int)right)) & 1) != 0;
            case FlagOp.Shr:
                return (int)right <= bits && ((left >> ((int)right - 1)) & 1) != 0;
            case FlagOp.Sar:
                long signed = size switch { 1 => (sbyte)left, 2 => (short)left, 4 => (int)left, _ => (long)left };
                return ((ulong)(signed >> Math.Min((int)right - 1, 63)) & 1) != 0;
            default:
                return false;   // Logic clears CF; Inc/Dec never reach here (their CarryOp never is Inc or Dec)
        }
    }

    public readonly bool Zero => Op == FlagOp.None ? (Materialized & ZF) != 0 : (Result & Mask) == 0;

    public readonly bool Sign => Op == FlagOp.None ? (Materialized & SF) != 0 : (Result & SignBit) != 0;

    public readonly bool Parity => Op == FlagOp.None
        ? (Materialized & PF) != 0
        : (System.Numerics.BitOperations.PopCount(Result & 0xFF) & 1) == 0;

    public readonly bool Adjust => Op switch
    {
        FlagOp.None or FlagOp.ShiftResult or FlagOp.MulResult => (Materialized & AF) != 0,
        FlagOp.Logic or FlagOp.Shl or FlagOp.Shr or FlagOp.Sar => false,
        FlagOp.Inc => (Result & 0xF) == 0,     // a carry out of bit 3
        FlagOp.Dec => (Result & 0xF) == 0xF,   // a borrow into bit 3
        _ => ((Result ^ Left ^ Right) & 0x10) != 0,
    };

    public readonly bool Overflow => Op switch
    {
        FlagOp.None or FlagOp.ShiftResult or FlagOp.MulResult => (Materialized & OF) != 0,
        FlagOp.Add or FlagOp.Adc => ((~(Left ^ Right) & (Left ^ Result)) & SignBit) != 0,
        FlagOp.Sub or FlagOp.Sbb => (((Left ^ Right) & (Left ^ Result)) & SignBit) != 0,
        FlagOp.Inc => (Result & Mask) == SignBit,
        FlagOp.Dec => (Result & Mask) == SignBit - 1,
        FlagOp.Neg => (Result & Mask) == SignBit,
        FlagOp.Shl => ((Result & SignBit) != 0) ^ Carry,
        FlagOp.Shr => (Left & SignBit) != 0,   // the original sign bit
        _ => false,                             // Logic, SAR
    };

    /// <summary>The six flags as RFLAGS bits.</summary>
    public readonly ulong ToBits() =>
        (Carry ? CF : 0) | (Parity ? PF : 0) | (Adjust ? AF : 0) | (Zero ? ZF : 0) | (Sign ? SF : 0) | (Overflow ? OF : 0);
}
