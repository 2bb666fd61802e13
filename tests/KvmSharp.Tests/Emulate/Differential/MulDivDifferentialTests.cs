using Iced.Intel;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>MUL, IMUL (one, two and three operands), DIV and IDIV including #DE (zero divisor, quotient overflow).</summary>
public class MulDivDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    [Theory]
    [InlineData("Mul"), InlineData("Imul"), InlineData("Imul2"), InlineData("Imul3")]
    public void Multiply(string form) => DifferentialHarness.Verify(DiffMode.Long64, MultiplyCases(form, 64, Count));

    [Theory]
    [InlineData("Div"), InlineData("Idiv")]
    public void Divide(string mnemonic)
    {
        int faults = DifferentialHarness.Verify(DiffMode.Long64, DivideCases(mnemonic, 64, Count));
        Assert.InRange(faults, Count / 20, Count / 2);   // #DE is exercised, and most cases divide
    }

    /// <summary>The IDIV operands that crash Unicorn (most negative dividend / -1) raise #DE on our CPU.</summary>
    [Theory]
    [InlineData(2), InlineData(4)]
    public void IdivOfTheMostNegativeDividendByMinusOneIsDivideError(int size)
    {
        int bits = size * 8;
        ulong mask = (1UL << bits) - 1;
        var c = new DiffCase($"idiv r/m{bits}", a => Forms.Emit(a, Forms.Get($"Idiv_rm{bits}"), DiffRandom.Gpr(3, size))) { SdmFault = 0 };
        c.Gprs[0] = 0xAAAA_0000_0000_0000;
        c.Gprs[2] = 1UL << (bits - 1);
        c.Gprs[3] = mask;
        c.Gprs[4] = DiffLayout.StackTop;
        using var harness = new DifferentialHarness();
        Assert.Null(harness.Check(c));
    }

    public static IEnumerable<DiffCase> MultiplyCases(string form, int bitness, int count)
    {
        var r = new DiffRandom($"mul-{form}-{bitness}");
        for (int n = 0; n < count; n++)
        {
            bool oneOperand = form is "Mul" or "Imul";
            int size = r.Pick(Forms.Sizes(bitness, bytes: oneOperand)), bits = size * 8;
            // SDM "MUL"/"IMUL": CF and OF defined; SF, ZF, AF, PF undefined.
            var c = new DiffCase(form, _ => { }) { Rflags = r.Flags(), FlagsMask = CF | OF };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            c.Gprs[0] = r.Register(size);
            int[] used = oneOperand ? [0, 2] : [];
            int destination = oneOperand ? -1 : r.GprIndex(bitness);
            if (destination >= 0) c.Gprs[destination] = r.Register(size);
            object source;
            if (r.Chance(30))
            {
                var m = Forms.Memory(r, c, bitness, size, [.. used, destination]);
                c.WithMemory(m.Address, r.Value(size), size);
                source = m.Memory;
            }
            else if (size == 1)
            {
                var reg = r.BytePair(bitness).A;
                ByteRegisters.Set(r, c, reg, r.Value(1));
                source = reg;
            }
            else
            {
                int s = r.GprIndex(bitness);
                if (s != 0 && s != destination) c.Gprs[s] = r.Register(size);
                source = DiffRandom.Gpr(s, size);
            }
            Code code;
            object[] operands;
            if (oneOperand)
            {
                code = Forms.Get($"{form}_rm{bits}");
                operands = [source];
            }
            else if (form == "Imul2")
            {
                code = Forms.Get($"Imul_r{bits}_rm{bits}");
                operands = [DiffRandom.Gpr(destination, size), source];
            }
            else
            {
                bool imm8 = r.Chance(50);
                code = Forms.Get($"Imul_r{bits}_rm{bits}_imm{(imm8 ? 8 : Math.Min(bits, 32))}");
                operands = [DiffRandom.Gpr(destination, size), source, Forms.Immediate(r, imm8 ? 1 : Math.Min(size, 4))];
            }
            yield return AluDifferentialTests.Rebuild(c, a => Forms.Emit(a, code, operands));
        }
    }

    public static IEnumerable<DiffCase> DivideCases(string mnemonic, int bitness, int count)
    {
        var r = new DiffRandom($"div-{mnemonic}-{bitness}");
        bool signed = mnemonic == "Idiv";
        for (int n = 0; n < count; n++)
        {
            int size = r.Pick(Forms.Sizes(bitness)), bits = size * 8;
            ulong mask = size == 8 ? ulong.MaxValue : (1UL << bits) - 1;
            // SDM "DIV"/"IDIV": all six flags undefined (a #DE leaves them unchanged: the harness compares all then).
            var c = new DiffCase($"{mnemonic} r/m{bits}", _ => { }) { Rflags = r.Flags(), FlagsMask = 0 };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            ulong divisor = r.Chance(5) ? 0 : r.Value(size);
            ulong low = r.Value(size);
            // Mostly dividends whose quotient fits (high part below the divisor, or the sign extension of the low part).
            ulong high = r.Rng.Next(3) switch
            {
                0 => r.Value(size),
                _ when !signed => divisor == 0 ? 0 : (r.Value(size) % divisor),
                _ => (low & (1UL << (bits - 1))) != 0 ? mask : 0,
            };
            if (size == 1) c.Gprs[0] = (c.Gprs[0] & ~0xFFFFUL) | (high << 8) | low;
            else
            {
                c.Gprs[0] = (c.Gprs[0] & ~mask) | low;
                c.Gprs[2] = (c.Gprs[2] & ~mask) | high;
            }
            object source;
            if (r.Chance(30))
            {
                var m = Forms.Memory(r, c, bitness, size, 0, 2);
                c.WithMemory(m.Address, divisor, size);
                source = m.Memory;
            }
            else
            {
                int s = size == 1 ? r.GprIndex(32, 0, 2, 5, 6, 7) : r.GprIndex(bitness, 0, 2);   // byte registers without REX: CL, BL
                if (size == 1) c.Gprs[s] = (c.Gprs[s] & ~0xFFUL) | divisor;
                else c.Gprs[s] = (c.Gprs[s] & ~mask) | divisor;
                source = DiffRandom.Gpr(s, size);
            }
            // Unicorn's 16/32-bit IDIV divides on the host: the most negative dividend by -1 kills the process
            // with SIGFPE (README). The SDM says #DE (quotient too large), which our CPU must raise.
            if (signed && size is 2 or 4 && divisor == mask && high == 1UL << (bits - 1) && low == 0) c.SdmFault = 0;
            var code = Forms.Get($"{mnemonic}_rm{bits}");
            yield return AluDifferentialTests.Rebuild(c, a => Forms.Emit(a, code, source));
        }
    }
}
