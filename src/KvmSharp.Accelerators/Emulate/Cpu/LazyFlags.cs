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
    }

    /// <summary>Stores explicit flag values (POPF, SAHF, IRET, a register load).</summary>
    public void Store(ulong rflags)
    {
        Op = FlagOp.None;
        Materialized = rflags & ArithmeticMask;
    }

    private readonly ulong SignBit => 1UL << (Size * 8 - 1);
    private readonly ulong Mask => Size == 8 ? ulong.MaxValue : (1UL << (Size * 8)) - 1;

    public readonly bool Carry => Op switch
    {
        FlagOp.None or FlagOp.ShiftResult or FlagOp.MulResult => (Materialized & CF) != 0,
        FlagOp.Add => (Result & Mask) < (Left & Mask),
        FlagOp.Adc => (Materialized & CF) != 0 ? (Result & Mask) <= (Left & Mask) : (Result & Mask) < (Left & Mask),
        FlagOp.Sub => (Left & Mask) < (Right & Mask),
        FlagOp.Sbb => (Materialized & CF) != 0 ? (Left & Mask) <= (Right & Mask) : (Left & Mask) < (Right & Mask),
        FlagOp.Neg => (Right & Mask) != 0,
        FlagOp.Inc or FlagOp.Dec => (Materialized & CF) != 0, // INC/DEC leave CF alone
        _ => false, // Logic clears CF
    };

    public readonly bool Zero => Op == FlagOp.None ? (Materialized & ZF) != 0 : (Result & Mask) == 0;

    public readonly bool Sign => Op == FlagOp.None ? (Materialized & SF) != 0 : (Result & SignBit) != 0;

    public readonly bool Parity => Op == FlagOp.None
        ? (Materialized & PF) != 0
        : (System.Numerics.BitOperations.PopCount(Result & 0xFF) & 1) == 0;

    public readonly bool Adjust => Op switch
    {
        FlagOp.None or FlagOp.ShiftResult or FlagOp.MulResult => (Materialized & AF) != 0,
        FlagOp.Logic => false,
        FlagOp.Inc => ((Result ^ Left ^ 1) & 0x10) != 0,
        FlagOp.Dec => ((Result ^ Left ^ 1) & 0x10) != 0,
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
        _ => false,
    };

    /// <summary>The six flags as RFLAGS bits.</summary>
    public readonly ulong ToBits() =>
        (Carry ? CF : 0) | (Parity ? PF : 0) | (Adjust ? AF : 0) | (Zero ? ZF : 0) | (Sign ? SF : 0) | (Overflow ? OF : 0);
}
