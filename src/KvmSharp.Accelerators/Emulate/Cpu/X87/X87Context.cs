namespace KvmSharp.Accelerators.Emulate.Cpu.X87;

/// <summary>
/// The rounding and exception environment of one x87 operation: the control word it reads (precision,
/// rounding, masks; SDM vol 1 §8.1.5) and the status bits it raises (exception flags and C1, §8.1.3).
/// </summary>
public struct X87Context(ushort control)
{
    public const ushort Invalid = 1 << 0, Denormal = 1 << 1, ZeroDivide = 1 << 2, Overflow = 1 << 3,
        Underflow = 1 << 4, Precision = 1 << 5, StackFault = 1 << 6, C1 = 1 << 9;

    public readonly ushort Control = control;

    /// <summary>Exception flags (FSW bits 0–6) and C1 raised so far.</summary>
    public ushort Status;

    /// <summary>Significand bits of arithmetic results: 24, 53 or 64 (PC field; 01b is reserved and acts as 64 here).</summary>
    public readonly int PrecisionBits => ((Control >> 8) & 3) switch { 0 => 24, 2 => 53, _ => 64 };

    /// <summary>RC field: 0 nearest-even, 1 down, 2 up, 3 toward zero.</summary>
    public readonly int RoundingMode => (Control >> 10) & 3;

    public readonly bool Masked(ushort flag) => (Control & flag) != 0;

    public void Raise(ushort flags) => Status |= flags;

    /// <summary>
    /// A denormal source operand was seen. DE ranks below invalid operation, NaN operands and divide-by-zero
    /// (SDM vol 1 §4.9.2), so it is raised by <see cref="CommitDenormal"/> only once those are ruled out.
    /// </summary>
    public bool DenormalSource;

    public void CommitDenormal()
    {
        if (DenormalSource) Status |= Denormal;
    }

    /// <summary>
    /// An unmasked invalid-operation, denormal-operand or divide-by-zero exception: the instruction leaves its
    /// destination unchanged (SDM vol 1 §8.5, "pre-computation" exceptions).
    /// </summary>
    public readonly bool Blocked => (Status & ~Control & (Invalid | Denormal | ZeroDivide)) != 0;

    /// <summary>Raises IE and returns the real indefinite (the masked response, SDM vol 1 §8.5.1.2).</summary>
    public Float80 InvalidOperation()
    {
        Status |= Invalid;
        return Float80.Indefinite;
    }
}
