using Iced.Intel;
using KvmSharp.Tests.Reference;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// MXCSR's exception flags and unmasked exceptions on our CPU alone: Unicorn (QEMU 5) never sets the flags
/// (Reference/README.md), so each expectation here is worked out from the SDM (vol 1 §4.9.1, §11.5.2, Table
/// 4-8, §10.2.3.3–4) for operands whose exact results are known: 1/3 is inexact, 1/0 divides by zero, ∞−∞ is
/// invalid, DBL_MAX·2 overflows, 2⁻¹⁰⁰⁰·2⁻¹⁰⁰ underflows, a denormal operand is reported unless DAZ.
/// </summary>
public class SseMxcsrTests
{
    private const ulong In = DiffLayout.Data + 0x100, Out = DiffLayout.Data + 0x200;

    private static (DiffOutcome Outcome, ReferenceState State) Run(uint mxcsr, double a, double b, Action<Assembler> operation)
    {
        var c = new DiffCase("mxcsr", assembler =>
        {
            assembler.ldmxcsr(__dword_ptr[(long)In]);
            operation(assembler);
            assembler.stmxcsr(__dword_ptr[(long)Out]);
        });
        c.Gprs[4] = DiffLayout.StackTop;
        c.Xmm[0] = BitConverter.DoubleToUInt64Bits(a);
        c.Xmm[1] = BitConverter.DoubleToUInt64Bits(b);
        c.WithMemory(In, mxcsr, 4);
        using var harness = new DifferentialHarness();
        return harness.RunOurs(c);
    }

    private static uint StoredMxcsr(ReferenceState state) =>
        BitConverter.ToUInt32(state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes, (int)(Out - DiffLayout.Data));

    private static double Low(ReferenceState state) => BitConverter.UInt64BitsToDouble((ulong)state.Xmm[0]);

    [Theory]
    [InlineData(1.0, 3.0, 0x1F80u, 0x1FA0u)]                        // inexact: PE
    [InlineData(1.0, 0.0, 0x1F80u, 0x1F84u)]                        // divide by zero: ZE
    [InlineData(6.0, 3.0, 0x1F80u, 0x1F80u)]                        // exact: no flag
    [InlineData(double.PositiveInfinity, 0.0, 0x1F80u, 0x1F80u)]    // ∞/0 is an exact ∞: no ZE
    [InlineData(4.9406564584124654E-324, 1.0, 0x1F80u, 0x1F82u)]    // denormal operand: DE (exact quotient)
    [InlineData(4.9406564584124654E-324, 1.0, 0x1FC0u, 0x1FC0u)]    // DAZ: read as zero, no DE
    public void DivisionFlags(double a, double b, uint control, uint expected)
    {
        var (outcome, state) = Run(control, a, b, asm => asm.divsd(xmm0, xmm1));
        Assert.Equal(DiffOutcome.Halted, outcome);
        Assert.Equal(expected, StoredMxcsr(state));
    }

    [Fact]
    public void InfinityMinusInfinityIsInvalid()
    {
        var (_, state) = Run(0x1F80, double.PositiveInfinity, double.PositiveInfinity, asm => asm.subsd(xmm0, xmm1));
        Assert.Equal(0x1F81u, StoredMxcsr(state));
        Assert.Equal(0xFFF8_0000_0000_0000UL, (ulong)state.Xmm[0]);   // the QNaN floating-point indefinite
    }

    [Theory]
    [InlineData(0x1F80u, double.PositiveInfinity)]   // round to nearest: ∞
    [InlineData(0x7F80u, double.MaxValue)]           // toward zero: the largest finite value (Table 4-8)
    [InlineData(0x3F80u, double.MaxValue)]           // down: largest finite for a positive result
    public void OverflowByRoundingMode(uint control, double expected)
    {
        var (_, state) = Run(control, double.MaxValue, 2.0, asm => asm.mulsd(xmm0, xmm1));
        Assert.Equal(control | 0x28, StoredMxcsr(state));   // OE and PE
        Assert.Equal(expected, Low(state));
    }

    [Fact]
    public void UnderflowAndFlushToZero()
    {
        double a = Math.BitIncrement(Math.ScaleB(1.0, -1000)), b = Math.ScaleB(1.0, -60);   // 2^-1060 + 2^-1112: denormal, inexact
        var (_, gradual) = Run(0x1F80, a, b, asm => asm.mulsd(xmm0, xmm1));
        Assert.Equal(0x1FB0u, StoredMxcsr(gradual));              // tiny and inexact: UE and PE
        Assert.Equal(a * b, Low(gradual));                         // the rounded denormal
        var (_, flushed) = Run(0x9F80, a, b, asm => asm.mulsd(xmm0, xmm1));
        Assert.Equal(0x9FB0u, StoredMxcsr(flushed));               // FTZ: UE and PE, result +0
        Assert.Equal(0UL, (ulong)flushed.Xmm[0]);
    }

    [Theory]
    [InlineData(0x1F80u, 2L), InlineData(0x3F80u, 2L), InlineData(0x5F80u, 3L), InlineData(0x7F80u, 2L)]
    public void ConversionRounding(uint control, long expected)
    {
        var (_, state) = Run(control, 2.5, 0, asm => asm.cvtsd2si(rax, xmm0));
        Assert.Equal((ulong)expected, state.Gprs[0]);
        Assert.Equal(control | 0x20, StoredMxcsr(state));   // PE
    }

    [Theory]
    [InlineData(true, 0x1F81u), InlineData(false, 0x1F80u)]
    public void ComisdSignalsQuietNaNUcomisdDoesNot(bool signaling, uint expected)
    {
        var (_, state) = Run(0x1F80, double.NaN, 1.0, asm => { if (signaling) asm.comisd(xmm0, xmm1); else asm.ucomisd(xmm0, xmm1); });
        Assert.Equal(expected, StoredMxcsr(state));
    }

    [Fact]
    public void UnmaskedExceptionFaultsAndLeavesTheDestination()
    {
        // ZM clear: 1/0 raises #XM, or #UD while CR4.OSXMMEXCPT is clear as here (SDM vol 3 §2.5, vol 1 §11.5.1).
        var (outcome, state) = Run(0x1D80, 1.0, 0.0, asm => asm.divsd(xmm0, xmm1));
        Assert.Equal(DiffOutcome.Fault(6), outcome);
        Assert.Equal(1.0, Low(state));
    }

    [Fact]
    public void UnmaskedExceptionRaisesXmWithOsxmmexcpt()
    {
        // CR4.OSXMMEXCPT (bit 10) set first: the same unmasked divide by zero is #XM, vector 19 (SDM vol 3 §6.15).
        var (outcome, state) = Run(0x1D80, 1.0, 0.0, asm =>
        {
            asm.mov(rax, cr4);
            asm.or(rax, 1 << 10);
            asm.mov(cr4, rax);
            asm.divsd(xmm0, xmm1);
        });
        Assert.Equal(DiffOutcome.Fault(19), outcome);
        Assert.Equal(1.0, Low(state));
    }
}
