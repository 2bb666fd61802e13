using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// Small helpers over Iced's <see cref="Assembler"/> for code whose operand size is only known at translation
/// time (the guest instruction's): the same host operation at 1, 2, 4 or 8 bytes, register views of a size.
/// </summary>
internal static class HostCode
{
    /// <summary>The view of a 64-bit general register at <paramref name="size"/> bytes (low byte for 1).</summary>
    public static Register Sized(Register r64, int size)
    {
        int n = r64 - Register.RAX;
        return size switch
        {
            8 => r64,
            4 => Register.EAX + n,
            2 => Register.AX + n,
            _ => n < 4 ? Register.AL + n : Register.SPL + (n - 4),
        };
    }

    /// <summary>One of four codes by operand size (8, 4, 2, 1 bytes).</summary>
    public static Code BySize(int size, Code q, Code d, Code w, Code b) => size switch { 8 => q, 4 => d, 2 => w, _ => b };

    public static void Emit(this Assembler a, Code code, Register r0, Register r1) => a.AddInstruction(Instruction.Create(code, r0, r1));

    public static void Emit(this Assembler a, Code code, Register r0, MemoryOperand m) => a.AddInstruction(Instruction.Create(code, r0, m));

    public static void Emit(this Assembler a, Code code, MemoryOperand m, Register r1) => a.AddInstruction(Instruction.Create(code, m, r1));

    public static void Emit(this Assembler a, Code code, Register r0, int immediate) => a.AddInstruction(Instruction.Create(code, r0, immediate));

    public static void Emit(this Assembler a, Code code, Register r0) => a.AddInstruction(Instruction.Create(code, r0));

    /// <summary>The host SETcc for a guest condition (x86 on x86: the same condition codes).</summary>
    public static Code Setcc(ConditionCode cc) => cc switch
    {
        ConditionCode.o => Code.Seto_rm8, ConditionCode.no => Code.Setno_rm8,
        ConditionCode.b => Code.Setb_rm8, ConditionCode.ae => Code.Setae_rm8,
        ConditionCode.e => Code.Sete_rm8, ConditionCode.ne => Code.Setne_rm8,
        ConditionCode.be => Code.Setbe_rm8, ConditionCode.a => Code.Seta_rm8,
        ConditionCode.s => Code.Sets_rm8, ConditionCode.ns => Code.Setns_rm8,
        ConditionCode.p => Code.Setp_rm8, ConditionCode.np => Code.Setnp_rm8,
        ConditionCode.l => Code.Setl_rm8, ConditionCode.ge => Code.Setge_rm8,
        ConditionCode.le => Code.Setle_rm8, _ => Code.Setg_rm8,
    };

    /// <summary>The arithmetic flags a condition reads.</summary>
    public static (bool Carry, bool Zero, bool Sign, bool Overflow, bool Parity) Reads(ConditionCode cc) => cc switch
    {
        ConditionCode.o or ConditionCode.no => (false, false, false, true, false),
        ConditionCode.b or ConditionCode.ae => (true, false, false, false, false),
        ConditionCode.e or ConditionCode.ne => (false, true, false, false, false),
        ConditionCode.be or ConditionCode.a => (true, true, false, false, false),
        ConditionCode.s or ConditionCode.ns => (false, false, true, false, false),
        ConditionCode.p or ConditionCode.np => (false, false, false, false, true),
        ConditionCode.l or ConditionCode.ge => (false, false, true, true, false),
        _ => (false, true, true, true, false),
    };
}
