namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The same generators in 32-bit protected mode (flat segments, no paging): 8 GPRs, INC/DEC r32 short
/// forms, 32-bit stack and addresses, and #DE delivered through a 32-bit interrupt gate.
/// </summary>
public class Protected32DifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(600);

    [Theory]
    [InlineData("Add"), InlineData("Adc"), InlineData("Sbb"), InlineData("Xor")]
    public void Binary(string mnemonic) => DifferentialHarness.Verify(DiffMode.Protected32, AluDifferentialTests.BinaryCases(mnemonic, 32, Count));

    [Theory]
    [InlineData("Inc"), InlineData("Dec"), InlineData("Neg")]
    public void Unary(string mnemonic) => DifferentialHarness.Verify(DiffMode.Protected32, AluDifferentialTests.UnaryCases(mnemonic, 32, Count));

    [Theory]
    [InlineData("Shl"), InlineData("Sar"), InlineData("Rcr"), InlineData("Rol")]
    public void Shift(string mnemonic) => DifferentialHarness.Verify(DiffMode.Protected32, ShiftDifferentialTests.ShiftCases(mnemonic, 32, Count));

    [Fact]
    public void Shrd() => DifferentialHarness.Verify(DiffMode.Protected32, ShiftDifferentialTests.DoubleShiftCases("Shrd", 32, Count));

    [Theory]
    [InlineData("Mul"), InlineData("Imul3")]
    public void Multiply(string form) => DifferentialHarness.Verify(DiffMode.Protected32, MulDivDifferentialTests.MultiplyCases(form, 32, Count));

    [Theory]
    [InlineData("Div"), InlineData("Idiv")]
    public void Divide(string mnemonic) =>
        Assert.True(DifferentialHarness.Verify(DiffMode.Protected32, MulDivDifferentialTests.DivideCases(mnemonic, 32, Count)) > 0);

    [Fact]
    public void Stack() => DifferentialHarness.Verify(DiffMode.Protected32, ControlDifferentialTests.StackCases(32, Count));

    [Fact]
    public void Branches() => DifferentialHarness.Verify(DiffMode.Protected32,
        ControlDifferentialTests.JccCases(32, Count).Concat(ControlDifferentialTests.LoopCases(32, Count)));

    [Theory]
    [InlineData("Movs"), InlineData("Cmps"), InlineData("Scas")]
    public void Strings(string mnemonic) => DifferentialHarness.Verify(DiffMode.Protected32, StringDifferentialTests.Cases(mnemonic, 32, Count));

    [Fact]
    public void BitTests() => DifferentialHarness.Verify(DiffMode.Protected32, BitDifferentialTests.BitTestCases("Btc", 32, Count));
}
