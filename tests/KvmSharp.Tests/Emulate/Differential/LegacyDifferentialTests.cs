using Iced.Intel;
using KvmSharp.Tests.Reference;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The 16/32-bit-only instructions firmware and boot loaders use (PUSHA/POPA, ENTER, XLAT, the BCD adjustments,
/// SALC), in 32-bit protected mode against Unicorn, each with the flags the SDM defines for it.
/// </summary>
public class LegacyDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(300);
    private const ulong CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80;

    [Theory]
    [InlineData("Pushad"), InlineData("Popad"), InlineData("Pushaw"), InlineData("Popaw")]
    public void PushAndPopAll(string form) => DifferentialHarness.Verify(DiffMode.Protected32, Cases($"all-{form}", r => Forms.Get(form), (r, c) => { }));

    [Theory]
    [InlineData("Daa", SF | ZF | AF | PF | CF), InlineData("Das", SF | ZF | AF | PF | CF)]
    [InlineData("Aaa", AF | CF), InlineData("Aas", AF | CF)]
    public void DecimalAdjust(string form, ulong definedFlags) => DifferentialHarness.Verify(DiffMode.Protected32,
        Cases($"bcd-{form}", r => Forms.Get(form), (r, c) => { c.Gprs[0] = r.Next64(); c.FlagsMask = definedFlags; }));

    [Theory]
    [InlineData("Aam_imm8"), InlineData("Aad_imm8")]
    public void AsciiAdjustWithBase(string form)
    {
        var r = new DiffRandom($"legacy-{form}");
        var code = Forms.Get(form);
        var cases = new List<DiffCase>();
        for (int n = 0; n < Count; n++)
        {
            // Base 0 is #DE for AAM; keep to bases both CPUs divide by, 10 most often as real code does.
            int numberBase = r.Chance(50) ? 10 : r.Rng.Next(1, 256);
            var c = new DiffCase(form, a => Forms.Emit(a, code, numberBase)) { Rflags = r.Flags(), FlagsMask = SF | ZF | PF };
            for (int g = 0; g < 8; g++) c.Gprs[g] = r.Next64();
            cases.Add(c);
        }
        DifferentialHarness.Verify(DiffMode.Protected32, cases);
    }

    [Fact]
    public void Salc() => DifferentialHarness.Verify(DiffMode.Protected32, Cases("salc", r => Forms.Get("Salc"), (r, c) => { }));

    [Fact]
    public void Xlat()
    {
        var r = new DiffRandom("legacy-xlat");
        var cases = new List<DiffCase>();
        for (int n = 0; n < Count; n++)
        {
            var c = new DiffCase("xlat", a => a.AddInstruction(Instruction.Create(Code.Xlat_m8, new MemoryOperand(Register.EBX, Register.AL)))) { Rflags = r.Flags() };
            for (int g = 0; g < 8; g++) c.Gprs[g] = r.Next64();
            c.Gprs[3] = DiffLayout.DataMiddle - (ulong)r.Rng.Next(0, 256);
            cases.Add(c);
        }
        DifferentialHarness.Verify(DiffMode.Protected32, cases);
    }

    [Fact]
    public void Enter()
    {
        var r = new DiffRandom("legacy-enter");
        var cases = new List<DiffCase>();
        for (int n = 0; n < Count; n++)
        {
            int frame = r.Rng.Next(0, 0x100), level = r.Pick([0, 0, 1, 2, 3, 5]);
            var code = r.Chance(70) ? Code.Enterd_imm16_imm8 : Code.Enterw_imm16_imm8;
            var c = new DiffCase($"{code} {frame},{level}", a => a.AddInstruction(Instruction.Create(code, frame, level))) { Rflags = r.Flags() };
            for (int g = 0; g < 8; g++) c.Gprs[g] = r.Next64();
            c.Gprs[4] = DiffLayout.StackTop;
            c.Gprs[5] = DiffLayout.StackTop + (ulong)r.Rng.Next(0, 64) * 4;   // the caller's frame, inside the stack region
            cases.Add(c);
        }
        DifferentialHarness.Verify(DiffMode.Protected32, cases);
    }

    private static List<DiffCase> Cases(string seed, Func<DiffRandom, Code> form, Action<DiffRandom, DiffCase> prepare)
    {
        var r = new DiffRandom($"legacy-{seed}");
        var cases = new List<DiffCase>();
        for (int n = 0; n < Count; n++)
        {
            var code = form(r);
            var c = new DiffCase(code.ToString(), a => Forms.Emit(a, code)) { Rflags = r.Flags() };
            for (int g = 0; g < 8; g++) c.Gprs[g] = r.Next64();
            c.Gprs[4] = DiffLayout.StackTop - (ulong)r.Rng.Next(0, 16) * 4;
            prepare(r, c);
            cases.Add(c);
        }
        return cases;
    }
}
