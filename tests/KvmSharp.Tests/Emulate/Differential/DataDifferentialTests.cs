using Iced.Intel;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>BSWAP, CMOVcc, SETcc, XADD, CMPXCHG, CMPXCHG8B/16B, XCHG, MOVZX/MOVSX/MOVSXD and LEA.</summary>
public class DataDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    public static readonly string[] Conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

    [Fact]
    public void Bswap() => DifferentialHarness.Verify(DiffMode.Long64, Cases("bswap", 64, (r, c, bitness) =>
    {
        int size = bitness == 64 && r.Chance(50) ? 8 : 4;
        int n = r.GprIndex(bitness);
        c.Gprs[n] = r.Register(size);
        var code = Forms.Get($"Bswap_r{size * 8}");
        return a => Forms.Emit(a, code, DiffRandom.Gpr(n, size));
    }));

    [Fact]
    public void Cmovcc() => DifferentialHarness.Verify(DiffMode.Long64, Cases("cmovcc", 64, (r, c, bitness) =>
    {
        int size = r.Pick(Forms.Sizes(bitness, bytes: false)), bits = size * 8;
        var code = Forms.Get($"Cmov{r.Pick(Conditions)}_r{bits}_rm{bits}");
        int destination = r.GprIndex(bitness);
        c.Gprs[destination] = r.Register(size);
        var source = Forms.RegisterOrMemory(r, c, bitness, size, r.Chance(30), destination);
        return a => Forms.Emit(a, code, DiffRandom.Gpr(destination, size), Forms.Operand(source));
    }));

    [Fact]
    public void Setcc() => DifferentialHarness.Verify(DiffMode.Long64, Cases("setcc", 64, (r, c, bitness) =>
    {
        var code = Forms.Get($"Set{r.Pick(Conditions)}_rm8");
        object target = r.Chance(30) ? Forms.Memory(r, c, bitness, 1).Memory : r.BytePair(bitness).A;
        return a => Forms.Emit(a, code, target);
    }));

    [Theory]
    [InlineData("Xadd"), InlineData("Cmpxchg"), InlineData("Xchg")]
    public void Exchange(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, Cases(mnemonic, 64, (r, c, bitness) =>
    {
        int size = r.Pick(Forms.Sizes(bitness)), bits = size * 8;
        var code = Forms.Get($"{mnemonic}_rm{bits}_r{bits}");
        var (first, second) = size == 1 ? r.BytePair(bitness, except: 0) : (DiffRandom.Gpr(r.GprIndex(bitness, 0), size), DiffRandom.Gpr(r.GprIndex(bitness, 0), size));
        AluDifferentialTests.SetRegister(r, c, first, size);
        AluDifferentialTests.SetRegister(r, c, second, size);
        c.Gprs[0] = r.Register(size);
        object destination = first;
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << bits) - 1;
        bool legacy = AluDifferentialTests.IsHighByte(first) || AluDifferentialTests.IsHighByte(second);
        if (r.Chance(40))
        {
            var m = Forms.Memory(r, c, bitness, size, legacy, [0, AluDifferentialTests.Index(first), AluDifferentialTests.Index(second)]);
            ulong value = r.Chance(50) ? c.Gprs[0] & mask : r.Value(size);   // CMPXCHG: equal half the time
            c.WithMemory(m.Address, value, size);
            destination = m.Memory;
        }
        else if (r.Chance(50) && !AluDifferentialTests.IsHighByte(first))
        {
            c.Gprs[0] = (c.Gprs[0] & ~mask) | (c.Gprs[AluDifferentialTests.Index(first)] & mask);
        }
        if (mnemonic == "Cmpxchg" && size == 4) c.ReferenceFix = UnicornCmpxchg32(c.Gprs[0], destination is Register d ? AluDifferentialTests.Index(d) : -1, destination is Register dd ? c.Gprs[AluDifferentialTests.Index(dd)] : 0);
        return a => Forms.Emit(a, code, destination, second);
    }));

    /// <summary>
    /// Unicorn (QEMU 5) writes EAX and a register destination of a 32-bit CMPXCHG whatever the outcome,
    /// zero-extending both. The SDM writes the accumulator only on failure and the destination only on
    /// success (QEMU fixed this in 8.1): on success RAX keeps its upper half; on failure the register
    /// destination keeps all 64 bits.
    /// </summary>
    private static Action<KvmSharp.Tests.Reference.ReferenceState> UnicornCmpxchg32(ulong initialRax, int destination, ulong initialDestination) => state =>
    {
        if ((state.Rflags & ZF) != 0) state.Gprs[0] = initialRax;
        else if (destination >= 0) state.Gprs[destination] = initialDestination;
    };

    [Fact]
    public void CmpxchgWide() => DifferentialHarness.Verify(DiffMode.Long64, Cases("cmpxchg8b/16b", 64, (r, c, bitness) =>
    {
        bool wide = bitness == 64 && r.Chance(50);
        int half = wide ? 8 : 4;
        ulong mask = wide ? ulong.MaxValue : 0xFFFF_FFFF;
        // CMPXCHG16B needs a 16-byte aligned operand (#GP otherwise): half the operands are aligned.
        var m = Forms.Memory(r, c, bitness, half * 2, 0, 1, 2, 3);
        c.Gprs[0] = r.Register(half);
        c.Gprs[2] = r.Register(half);
        ulong low = r.Chance(50) ? c.Gprs[0] & mask : r.Value(half), high = r.Chance(80) ? c.Gprs[2] & mask : r.Value(half);
        c.WithMemory(m.Address, low, half).WithMemory(m.Address + (ulong)half, high, half);
        c.FlagsMask = ArithmeticFlags;   // only ZF changes
        var code = Forms.Get(wide ? "Cmpxchg16b_m128" : "Cmpxchg8b_m64");
        return a => Forms.Emit(a, code, m.Memory);
    }));

    [Fact]
    public void MoveWithExtension() => DifferentialHarness.Verify(DiffMode.Long64, Cases("movzx/movsx/movsxd", 64, (r, c, bitness) =>
    {
        string[] forms = bitness == 64
            ? ["Movzx_r16_rm8", "Movzx_r32_rm8", "Movzx_r64_rm8", "Movzx_r16_rm16", "Movzx_r32_rm16", "Movzx_r64_rm16",
               "Movsx_r16_rm8", "Movsx_r32_rm8", "Movsx_r64_rm8", "Movsx_r16_rm16", "Movsx_r32_rm16", "Movsx_r64_rm16",
               "Movsxd_r64_rm32", "Movsxd_r32_rm32", "Movsxd_r16_rm16"]
            : ["Movzx_r16_rm8", "Movzx_r32_rm8", "Movzx_r16_rm16", "Movzx_r32_rm16", "Movsx_r16_rm8", "Movsx_r32_rm8", "Movsx_r16_rm16", "Movsx_r32_rm16"];
        string name = r.Pick(forms);
        var parts = name.Split('_');
        int to = int.Parse(parts[1][1..]) / 8, from = int.Parse(parts[2][2..]) / 8;
        int destination = r.GprIndex(from == 1 ? 32 : bitness);
        c.Gprs[destination] = r.Register(to);
        object source;
        if (r.Chance(30)) source = Forms.RegisterOrMemory(r, c, bitness, from, true, destination).Memory;
        else if (from == 1 && to == 8)
        {
            int s = r.GprIndex(bitness, destination);
            c.Gprs[s] = r.Register(1);
            source = DiffRandom.Gpr(s, 1);
        }
        else if (from == 1)
        {
            var reg = r.BytePair(32).A;
            ByteRegisters.Set(r, c, reg, r.Value(1));
            source = reg;
        }
        else source = Forms.RegisterOrMemory(r, c, bitness, from, false, destination).Register;
        var code = Forms.Get(name);
        return a => Forms.Emit(a, code, DiffRandom.Gpr(destination, to), source);
    }));

    [Fact]
    public void Lea() => DifferentialHarness.Verify(DiffMode.Long64, Cases("lea", 64, (r, c, bitness) =>
    {
        int size = r.Pick(Forms.Sizes(bitness, bytes: false));
        int destination = r.GprIndex(bitness);
        // Any register values: LEA only computes (and wraps to the address and operand size).
        int baseRegister = r.GprIndex(bitness), index = r.GprIndex(bitness);
        c.Gprs[baseRegister] = r.Register(8);
        c.Gprs[index] = r.Register(8);
        int width = bitness == 64 && r.Chance(70) ? 8 : 4;
        var memory = r.Rng.Next(5) switch
        {
            0 => new MemoryOperand(DiffRandom.Gpr(baseRegister, width)),
            1 => new MemoryOperand(DiffRandom.Gpr(baseRegister, width), r.Rng.Next(-200, 200), 1),
            2 => new MemoryOperand(DiffRandom.Gpr(baseRegister, width), DiffRandom.Gpr(index, width), r.Pick([1, 2, 4, 8])),
            3 => new MemoryOperand(Register.None, DiffRandom.Gpr(index, width), r.Pick([1, 2, 4, 8]), (int)r.Value(4), width),
            _ => new MemoryOperand(DiffRandom.Gpr(baseRegister, width), DiffRandom.Gpr(index, width), r.Pick([1, 2, 4, 8]), (int)r.Value(4), width),
        };
        var code = Forms.Get($"Lea_r{size * 8}_m");
        return a => Forms.Emit(a, code, DiffRandom.Gpr(destination, size), memory);
    }));

    /// <summary>Cases with random registers and flags; <paramref name="build"/> sets operands and returns the code.</summary>
    public static IEnumerable<DiffCase> Cases(string group, int bitness, Func<DiffRandom, DiffCase, int, Action<Assembler>> build, int? count = null)
    {
        var r = new DiffRandom($"data-{group}-{bitness}");
        for (int n = 0; n < (count ?? Count); n++)
        {
            var c = new DiffCase(group, _ => { }) { Rflags = r.Flags() };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            var emit = build(r, c, bitness);
            yield return AluDifferentialTests.Rebuild(c, emit);
        }
    }
}
