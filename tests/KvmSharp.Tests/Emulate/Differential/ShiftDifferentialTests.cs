using Iced.Intel;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>SHL SAL SHR SAR ROL ROR RCL RCR (by 1, imm8 and CL) and SHLD/SHRD (imm8 and CL), every width.</summary>
public class ShiftDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    [Theory]
    [InlineData("Shl"), InlineData("Sal"), InlineData("Shr"), InlineData("Sar")]
    [InlineData("Rol"), InlineData("Ror"), InlineData("Rcl"), InlineData("Rcr")]
    public void Shift(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, ShiftCases(mnemonic, 64, Count));

    [Theory]
    [InlineData("Shld"), InlineData("Shrd")]
    public void DoubleShift(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, DoubleShiftCases(mnemonic, 64, Count));

    /// <summary>
    /// The flags the SDM defines after a shift or rotate by <paramref name="masked"/> (the count after the
    /// CPU's 5/6-bit mask). A masked count of 0 changes nothing. Shifts: AF undefined, OF only for 1, CF
    /// undefined for SHL/SHR by the operand width or more. Rotates: only CF and OF change, OF only for 1.
    /// </summary>
    public static ulong Mask(string mnemonic, int masked, int bits)
    {
        if (masked == 0) return ArithmeticFlags;
        ulong mask = ArithmeticFlags;
        if (masked != 1) mask &= ~OF;
        if (mnemonic is "Rol" or "Ror" or "Rcl" or "Rcr") return mask;
        mask &= ~AF;
        if (mnemonic is "Shl" or "Sal" or "Shr" && masked >= bits) mask &= ~CF;
        return mask;
    }

    public static IEnumerable<DiffCase> ShiftCases(string mnemonic, int bitness, int count)
    {
        var r = new DiffRandom($"shift-{mnemonic}-{bitness}");
        string codeMnemonic = mnemonic == "Sal" ? "Shl" : mnemonic;   // SAL is SHL's encoding (/4); Iced names it Shl
        for (int n = 0; n < count; n++)
        {
            int size = r.Pick(Forms.Sizes(bitness)), bits = size * 8;
            string form = r.Pick(["1", "CL", "imm8"]);
            int shiftCount = form == "1" ? 1 : r.ShiftCount();
            var code = Forms.Get($"{codeMnemonic}_rm{bits}_{form}");
            var c = new DiffCase($"{mnemonic} r/m{bits}, {form}", _ => { }) { Rflags = r.Flags() };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            c.Gprs[1] = (c.Gprs[1] & ~0xFFUL) | (uint)(shiftCount & 0xFF);
            object target;
            if (r.Chance(30))
            {
                var m = Forms.Memory(r, c, bitness, size, 1);
                c.WithMemory(m.Address, r.Value(size), size);
                target = m.Memory;
            }
            else
            {
                var reg = size == 1 ? r.BytePair(bitness, except: 1).A : DiffRandom.Gpr(r.GprIndex(bitness, 1), size);
                AluDifferentialTests.SetRegister(r, c, reg, size);
                target = reg;
            }
            c.FlagsMask = Mask(mnemonic, shiftCount & (size == 8 ? 63 : 31), bits);
            object[] operands = form switch
            {
                "1" => [target, 1],
                "CL" => [target, Register.CL],
                _ => [target, shiftCount],
            };
            yield return AluDifferentialTests.Rebuild(c, a => Forms.Emit(a, code, operands));
        }
    }

    public static IEnumerable<DiffCase> DoubleShiftCases(string mnemonic, int bitness, int count)
    {
        var r = new DiffRandom($"shift-{mnemonic}-{bitness}");
        for (int n = 0; n < count; n++)
        {
            int size = r.Pick(Forms.Sizes(bitness, bytes: false)), bits = size * 8;
            string form = r.Pick(["CL", "imm8"]);
            int shiftCount = r.ShiftCount(), masked = shiftCount & (size == 8 ? 63 : 31);
            // SDM "SHLD": a count greater than the operand size leaves the result and flags undefined.
            if (masked > bits) { n--; continue; }
            var code = Forms.Get($"{mnemonic}_rm{bits}_r{bits}_{(form == "CL" ? "CL" : "imm8")}");
            var c = new DiffCase($"{mnemonic} r/m{bits}, r{bits}, {form}", _ => { }) { Rflags = r.Flags() };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            c.Gprs[1] = (c.Gprs[1] & ~0xFFUL) | (uint)(shiftCount & 0xFF);
            var source = DiffRandom.Gpr(r.GprIndex(bitness, 1), size);
            AluDifferentialTests.SetRegister(r, c, source, size);
            object target;
            if (r.Chance(30))
            {
                var m = Forms.Memory(r, c, bitness, size, 1, AluDifferentialTests.Index(source));
                c.WithMemory(m.Address, r.Value(size), size);
                target = m.Memory;
            }
            else
            {
                var reg = DiffRandom.Gpr(r.GprIndex(bitness, 1), size);
                AluDifferentialTests.SetRegister(r, c, reg, size);
                target = reg;
            }
            c.FlagsMask = masked == 0 ? ArithmeticFlags : ArithmeticFlags & ~AF & ~(masked == 1 ? 0 : OF);
            object[] operands = form == "CL" ? [target, source, Register.CL] : [target, source, shiftCount];
            yield return AluDifferentialTests.Rebuild(c, a => Forms.Emit(a, code, operands));
        }
    }
}
