using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Emulate.Differential.DiffLayout;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>PUSH POP CALL RET LEAVE, Jcc after flag-setting instructions, LOOP/LOOPE/LOOPNE, JRCXZ/JECXZ.</summary>
public class ControlDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    [Fact]
    public void Stack() => DifferentialHarness.Verify(DiffMode.Long64, StackCases(64, Count));

    [Fact]
    public void ConditionalJumps() => DifferentialHarness.Verify(DiffMode.Long64, JccCases(64, Count));

    [Fact]
    public void Loops() => DifferentialHarness.Verify(DiffMode.Long64, LoopCases(64, Count));

    public static IEnumerable<DiffCase> StackCases(int bitness, int count) => DataDifferentialTests.Cases("stack", bitness, (r, c, b) =>
    {
        c.Gprs[4] = StackTop - (ulong)r.Rng.Next(0, 64) * (ulong)r.Pick([1, 2, 8]);
        int n = r.GprIndex(b), m = r.GprIndex(b);
        c.Gprs[5] = StackTop - (ulong)r.Rng.Next(0, 128);   // RBP for LEAVE
        int word = b / 8;
        return r.Rng.Next(9) switch
        {
            0 => a => { Forms.Emit(a, Forms.Get($"Push_r{b}"), DiffRandom.Gpr(n, word)); Forms.Emit(a, Forms.Get($"Pop_r{b}"), DiffRandom.Gpr(m, word)); },
            1 => a => { Forms.Emit(a, Forms.Get("Push_r16"), DiffRandom.Gpr(n, 2)); Forms.Emit(a, Forms.Get("Pop_r16"), DiffRandom.Gpr(m, 2)); },
            2 => Push(r, c, b),
            3 => PopMemory(Forms.Memory(r, c, b, word, 4).Memory, b),
            4 => a => { Forms.Emit(a, Forms.Get(b == 64 ? "Leaveq" : "Leaved")); },
            5 => a => { Forms.Emit(a, Forms.Get(b == 64 ? "Leavew" : "Leavew")); },
            6 => Call(r, b, imm: false),
            7 => Call(r, b, imm: true),
            _ => PushMemory(Forms.Memory(r, c, b, word, 4).Memory, DiffRandom.Gpr(n, word), b),
        };
    }, count);

    private static Action<Assembler> PopMemory(MemoryOperand m, int bitness) => a => Forms.Emit(a, Forms.Get($"Pop_rm{bitness}"), m);

    private static Action<Assembler> PushMemory(MemoryOperand m, Register then, int bitness) => a =>
    {
        Forms.Emit(a, Forms.Get($"Push_rm{bitness}"), m);
        Forms.Emit(a, Forms.Get($"Pop_r{bitness}"), then);
    };

    private static Action<Assembler> Push(DiffRandom r, DiffCase c, int bitness)
    {
        int imm = (int)r.Value(4);
        bool small = r.Chance(50);
        var code = Forms.Get(small ? bitness == 64 ? "Pushq_imm8" : "Pushd_imm8" : bitness == 64 ? "Pushq_imm32" : "Pushd_imm32");
        return a => Forms.Emit(a, code, small ? (int)(sbyte)imm : imm);
    }

    /// <summary>CALL to a routine that changes a register and returns (RET or RET imm16), then HLT.</summary>
    private static Action<Assembler> Call(DiffRandom r, int bitness, bool imm)
    {
        int n = r.GprIndex(bitness);
        ushort release = (ushort)(r.Rng.Next(0, 8) * (bitness / 8));
        return a =>
        {
            var routine = a.CreateLabel();
            var done = a.CreateLabel();
            a.call(routine);
            a.jmp(done);
            a.Label(ref routine);
            Forms.Emit(a, Forms.Get(bitness == 64 ? "Not_rm64" : "Not_rm32"), DiffRandom.Gpr(n, bitness / 8));
            if (imm) a.ret(release); else a.ret();
            a.Label(ref done);
        };
    }

    /// <summary>A flag-setting instruction (lazy flags of every kind), then Jcc over a MOV, so the taken path shows in a register.</summary>
    public static IEnumerable<DiffCase> JccCases(int bitness, int count) => DataDifferentialTests.Cases("jcc", bitness, (r, c, b) =>
    {
        int size = r.Pick(Forms.Sizes(b)), bits = size * 8;
        int[] avoid = size == 1 && b == 32 ? [1, 5, 6, 7] : [1];   // SPL–DIL need REX, which 32-bit code lacks
        int x = r.GprIndex(b, avoid), y = r.GprIndex(b, [.. avoid, x]);
        AluDifferentialTests.SetRegister(r, c, DiffRandom.Gpr(x, size), size);
        if (r.Chance(30)) c.Gprs[y] = c.Gprs[x]; else AluDifferentialTests.SetRegister(r, c, DiffRandom.Gpr(y, size), size);
        string setter = r.Pick(["Add", "Adc", "Sub", "Sbb", "Cmp", "And", "Test", "Inc", "Dec", "Neg", "Shl", "Sar", "Imul", "Bt", "None"]);
        var condition = r.Pick(DataDifferentialTests.Conditions);
        var jcc = Forms.Get($"J{condition}_rel{(r.Chance(50) ? "8" : "32")}_{b}");
        // Flags the SDM leaves undefined must not steer the branch: shifts by 1, IMUL (CF/OF), BT (CF) only
        // feed conditions on defined flags.
        if (setter is "Shl" or "Sar" && condition is not ("b" or "ae" or "e" or "ne" or "s" or "ns" or "p" or "np" or "o" or "no" or "l" or "ge" or "le" or "g" or "be" or "a")) setter = "Cmp";
        if (setter == "Imul" && condition is not ("o" or "no" or "b" or "ae")) setter = "Sub";
        if (setter == "Bt" && condition is not ("b" or "ae")) setter = "Add";
        Register rx = DiffRandom.Gpr(x, size), ry = DiffRandom.Gpr(y, size);
        if (size == 1 || setter is "Imul" && size == 1) setter = setter is "Imul" or "Bt" ? "Cmp" : setter;
        return a =>
        {
            switch (setter)
            {
                case "Inc": case "Dec": case "Neg": Forms.Emit(a, Forms.Get($"{setter}_rm{bits}"), rx); break;
                case "Shl": case "Sar": Forms.Emit(a, Forms.Get($"{setter}_rm{bits}_1"), rx, 1); break;
                case "Imul": Forms.Emit(a, Forms.Get($"Imul_r{bits}_rm{bits}"), rx, ry); break;
                case "Bt": Forms.Emit(a, Forms.Get($"Bt_rm{bits}_r{bits}"), rx, ry); break;
                case "None": break;
                default: Forms.Emit(a, Forms.Get($"{setter}_rm{bits}_r{bits}"), rx, ry); break;
            }
            var over = a.CreateLabel();
            a.AddInstruction(Instruction.CreateBranch(jcc, over.Id));
            Forms.Emit(a, Forms.Get("Mov_r32_imm32"), Register.ECX, 0x1234);
            a.Label(ref over);
        };
    }, count);

    public static IEnumerable<DiffCase> LoopCases(int bitness, int count) => DataDifferentialTests.Cases("loop", bitness, (r, c, b) =>
    {
        // RCX: small counts, 0 (wraps to all ones: LOOP exits only via the condition or the iteration cap),
        // and values whose low 32 bits are small with garbage above (ECX-sized LOOP with 0x67).
        int kind = r.Rng.Next(4);
        string width = b == 64 ? r.Chance(70) ? "RCX" : "ECX" : r.Chance(70) ? "ECX" : "CX";
        // RCX: small counts; with ECX/CX-sized counters garbage above them; 0 only where the loop ends
        // anyway (JRCXZ, or LOOPE/LOOPNE that the comparison with 5 stops).
        c.Gprs[1] = (ulong)r.Rng.Next(kind is 0 ? 1 : 0, 12);
        if (width != "RCX" && r.Chance(50)) c.Gprs[1] |= r.Next64() << (width == "ECX" ? 32 : 16);
        c.Gprs[0] = (ulong)r.Rng.Next(0, 5);
        return a =>
        {
            var top = a.CreateLabel();
            var exit = a.CreateLabel();
            a.Label(ref top);
            if (kind == 3)
            {
                var jcx = b == 64 ? width == "RCX" ? "Jrcxz_rel8_64" : "Jecxz_rel8_64" : width == "ECX" ? "Jecxz_rel8_32" : "Jcxz_rel8_32";
                a.AddInstruction(Instruction.CreateBranch(Forms.Get(jcx), exit.Id));
                Forms.Emit(a, Forms.Get(b == 64 ? "Dec_rm64" : "Dec_rm32"), b == 64 ? Register.RCX : Register.ECX);
                Forms.Emit(a, Forms.Get(b == 64 ? "Inc_rm64" : "Inc_rm32"), b == 64 ? Register.RAX : Register.EAX);
                a.AddInstruction(Instruction.CreateBranch(Forms.Get($"Jmp_rel8_{b}"), top.Id));
            }
            else
            {
                // A counted body; LOOPE/LOOPNE also stop on ZF from comparing RAX with 5.
                Forms.Emit(a, Forms.Get(b == 64 ? "Inc_rm64" : "Inc_rm32"), b == 64 ? Register.RAX : Register.EAX);
                Forms.Emit(a, Forms.Get(b == 64 ? "Cmp_rm64_imm8" : "Cmp_rm32_imm8"), b == 64 ? Register.RAX : Register.EAX, 5);
                string mnemonic = kind switch { 0 => "Loop", 1 => "Loope", _ => "Loopne" };
                string code = b == 64 ? $"{mnemonic}_rel8_64_{width}" : $"{mnemonic}_rel8_32_{width}";
                a.AddInstruction(Instruction.CreateBranch(Forms.Get(code), top.Id));
            }
            a.Label(ref exit);
        };
    }, count);
}
