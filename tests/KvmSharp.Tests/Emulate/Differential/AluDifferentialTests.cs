using Iced.Intel;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT in 8/16/32/64 bits, every operand form.</summary>
public class AluDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    [Theory]
    [InlineData("Add"), InlineData("Adc"), InlineData("Sub"), InlineData("Sbb"), InlineData("Cmp")]
    [InlineData("And"), InlineData("Or"), InlineData("Xor"), InlineData("Test")]
    public void Binary(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, BinaryCases(mnemonic, 64, Count));

    [Theory]
    [InlineData("Inc"), InlineData("Dec"), InlineData("Neg"), InlineData("Not")]
    public void Unary(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, UnaryCases(mnemonic, 64, Count));

    /// <summary>SDM vol 2: AND/OR/XOR/TEST clear CF and OF, leave AF undefined; the rest define all six.</summary>
    public static ulong BinaryMask(string mnemonic) =>
        mnemonic is "And" or "Or" or "Xor" or "Test" ? ArithmeticFlags & ~AF : ArithmeticFlags;

    public static IEnumerable<DiffCase> BinaryCases(string mnemonic, int bitness, int count)
    {
        var r = new DiffRandom($"alu-{mnemonic}-{bitness}");
        for (int n = 0; n < count; n++)
        {
            int size = r.Pick(Forms.Sizes(bitness)), bits = size * 8, immBits = Math.Min(bits, 32);
            string acc = size switch { 1 => "AL", 2 => "AX", 4 => "EAX", _ => "RAX" };
            var forms = new List<(string Name, string Shape)>();
            void Add(string name, string shape) { if (Forms.Find(name) is not null) forms.Add((name, shape)); }
            Add($"{mnemonic}_rm{bits}_r{bits}", "rm,r");
            Add($"{mnemonic}_r{bits}_rm{bits}", "r,rm");
            Add($"{mnemonic}_rm{bits}_imm{immBits}", "rm,imm");
            if (bits > 8) Add($"{mnemonic}_rm{bits}_imm8", "rm,imm8");
            Add($"{mnemonic}_{acc}_imm{immBits}", "acc,imm");
            var (name, shape) = r.Pick(forms);
            var code = Forms.Get(name);
            var c = new DiffCase($"{name} ({shape})", a => { }) { Rflags = r.Flags(), FlagsMask = BinaryMask(mnemonic) };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            bool memory = r.Chance(35);
            object[] operands;
            if (shape == "acc,imm")
            {
                c.Gprs[0] = r.Register(size);
                operands = [DiffRandom.Gpr(0, size), Forms.Immediate(r, immBits / 8)];
            }
            else
            {
                Register first, second;
                if (size == 1) (first, second) = r.BytePair(bitness);
                else (first, second) = (DiffRandom.Gpr(r.GprIndex(bitness), size), DiffRandom.Gpr(r.GprIndex(bitness), size));
                SetRegister(r, c, first, size);
                SetRegister(r, c, second, size);
                int[] used = [Index(first), Index(second)];
                object rmOperand = first;
                if (memory)
                {
                    var m = Forms.Memory(r, c, bitness, size, IsHighByte(first) || IsHighByte(second), used);
                    c.WithMemory(m.Address, r.Value(size), size);
                    rmOperand = m.Memory;
                }
                operands = shape switch
                {
                    "rm,r" => [rmOperand, second],
                    "r,rm" => [second, rmOperand],
                    "rm,imm" => [rmOperand, Forms.Immediate(r, immBits / 8)],
                    _ => [rmOperand, Forms.Immediate(r, 1)],
                };
            }
            var captured = operands;
            yield return Rebuild(c, a => Forms.Emit(a, code, captured));
        }
    }

    public static IEnumerable<DiffCase> UnaryCases(string mnemonic, int bitness, int count)
    {
        var r = new DiffRandom($"alu-{mnemonic}-{bitness}");
        for (int n = 0; n < count; n++)
        {
            int size = r.Pick(Forms.Sizes(bitness)), bits = size * 8;
            // INC r16/r32 (0x40+r) exist only outside 64-bit mode, where they are REX prefixes.
            string name = bitness == 32 && size > 1 && mnemonic is "Inc" or "Dec" && r.Chance(30) ? $"{mnemonic}_r{bits}" : $"{mnemonic}_rm{bits}";
            var code = Forms.Get(name);
            var c = new DiffCase(name, a => { }) { Rflags = r.Flags() };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            object operand;
            if (r.Chance(35) && !name.EndsWith($"_r{bits}"))
            {
                var m = Forms.Memory(r, c, bitness, size, false, []);
                c.WithMemory(m.Address, r.Value(size), size);
                operand = m.Memory;
            }
            else
            {
                var reg = size == 1 ? r.BytePair(bitness).A : DiffRandom.Gpr(r.GprIndex(bitness), size);
                SetRegister(r, c, reg, size);
                operand = reg;
            }
            yield return Rebuild(c, a => Forms.Emit(a, code, operand));
        }
    }

    internal static bool IsHighByte(Register register) => register is Register.AH or Register.CH or Register.DH or Register.BH;

    internal static int Index(Register register) =>
        register.GetSize() == 1 ? DiffRandom.ByteIndex(register) : register.GetFullRegister() - Register.RAX;

    internal static void SetRegister(DiffRandom r, DiffCase c, Register register, int size)
    {
        if (size == 1) ByteRegisters.Set(r, c, register, r.Value(1));
        else c.Gprs[Index(register)] = r.Register(size);
    }

    /// <summary>A copy of <paramref name="c"/> (state and memory) with other code.</summary>
    internal static DiffCase Rebuild(DiffCase c, Action<Assembler> emit, string? name = null)
    {
        var copy = new DiffCase(name ?? c.Name, emit) { Rflags = c.Rflags, FlagsMask = c.FlagsMask, ReferenceFix = c.ReferenceFix, SdmFault = c.SdmFault, Osfxsr = c.Osfxsr };
        c.Gprs.CopyTo(copy.Gprs, 0);
        c.Xmm.CopyTo(copy.Xmm, 0);
        copy.Memory.AddRange(c.Memory);
        return copy;
    }
}
