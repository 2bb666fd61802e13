using Iced.Intel;
using static KvmSharp.Tests.Emulate.Differential.DiffLayout;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>MOVS STOS LODS CMPS SCAS in every width, without and with REP/REPE/REPNE, DF clear and set, 64- and 32-bit addresses.</summary>
public class StringDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    [Theory]
    [InlineData("Movs"), InlineData("Stos"), InlineData("Lods"), InlineData("Cmps"), InlineData("Scas")]
    public void StringInstruction(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, Cases(mnemonic, 64, Count));

    public static IEnumerable<DiffCase> Cases(string mnemonic, int bitness, int count) => DataDifferentialTests.Cases($"string-{mnemonic}", bitness, (r, c, b) =>
    {
        int size = r.Pick(Forms.Sizes(b));
        bool compares = mnemonic is "Cmps" or "Scas";
        var rep = r.Rng.Next(3) switch
        {
            0 => RepPrefixKind.None,
            1 => RepPrefixKind.Repe,
            _ => compares ? RepPrefixKind.Repne : RepPrefixKind.Repe,
        };
        int addressSize = b == 64 && r.Chance(25) ? 32 : b;
        if (r.Chance(40)) c.Rflags |= DF;
        // Sources and destinations in the data region, far enough from its ends for 40 elements either way.
        ulong source = DataMiddle + (ulong)r.Rng.Next(-2048, 2048), destination = DataMiddle + (ulong)r.Rng.Next(-2048, 2048);
        if (r.Chance(30)) destination = source + (ulong)r.Rng.Next(-16, 16);   // overlapping copies
        ulong upper = addressSize == 32 ? r.Next64() << 32 : 0;               // ignored with 32-bit addresses
        c.Gprs[6] = upper | source;
        c.Gprs[7] = (addressSize == 32 ? r.Next64() << 32 : 0) | destination;
        c.Gprs[1] = (uint)r.Rng.Next(0, 40) | (addressSize == 32 ? r.Next64() << 32 : 0);
        c.Gprs[0] = r.Register(size);
        if (compares)
        {
            // Make some elements equal to the accumulator or to each other so REPE/REPNE stop inside the run.
            ulong element = c.Gprs[0] & (size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1);
            for (int k = 0; k < 40; k++)
                if (r.Chance(mnemonic == "Scas" ? 10 : 70))
                {
                    long step = (c.Rflags & DF) != 0 ? -size * k : size * k;
                    ulong at = destination + (ulong)step;
                    if (mnemonic == "Cmps") c.WithMemory(source + (ulong)step, element ^ (ulong)k, size).WithMemory(at, element ^ (ulong)k, size);
                    else c.WithMemory(at, element, size);
                }
        }
        int width = size * 8;
        Instruction instruction = (mnemonic, width) switch
        {
            ("Movs", 8) => Instruction.CreateMovsb(addressSize, Register.None, rep),
            ("Movs", 16) => Instruction.CreateMovsw(addressSize, Register.None, rep),
            ("Movs", 32) => Instruction.CreateMovsd(addressSize, Register.None, rep),
            ("Movs", _) => Instruction.CreateMovsq(addressSize, Register.None, rep),
            ("Stos", 8) => Instruction.CreateStosb(addressSize, rep),
            ("Stos", 16) => Instruction.CreateStosw(addressSize, rep),
            ("Stos", 32) => Instruction.CreateStosd(addressSize, rep),
            ("Stos", _) => Instruction.CreateStosq(addressSize, rep),
            ("Lods", 8) => Instruction.CreateLodsb(addressSize, Register.None, rep),
            ("Lods", 16) => Instruction.CreateLodsw(addressSize, Register.None, rep),
            ("Lods", 32) => Instruction.CreateLodsd(addressSize, Register.None, rep),
            ("Lods", _) => Instruction.CreateLodsq(addressSize, Register.None, rep),
            ("Cmps", 8) => Instruction.CreateCmpsb(addressSize, Register.None, rep),
            ("Cmps", 16) => Instruction.CreateCmpsw(addressSize, Register.None, rep),
            ("Cmps", 32) => Instruction.CreateCmpsd(addressSize, Register.None, rep),
            ("Cmps", _) => Instruction.CreateCmpsq(addressSize, Register.None, rep),
            ("Scas", 8) => Instruction.CreateScasb(addressSize, rep),
            ("Scas", 16) => Instruction.CreateScasw(addressSize, rep),
            ("Scas", 32) => Instruction.CreateScasd(addressSize, rep),
            _ => Instruction.CreateScasq(addressSize, rep),
        };
        return a => a.AddInstruction(instruction);
    }, count);
}
