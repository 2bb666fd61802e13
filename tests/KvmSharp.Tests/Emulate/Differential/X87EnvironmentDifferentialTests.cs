using Iced.Intel;
using KvmSharp.Tests.Reference;
using static KvmSharp.Tests.Emulate.Differential.X87DifferentialTests;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The x87 environment and state images against Unicorn, in 64-bit and 32-bit protected mode: FNSTENV/FNSAVE
/// (14/28 and 94/108 bytes) of a random FPU, FLDENV/FRSTOR of random images, and FXSAVE/FXRSTOR carrying the
/// ST registers and the abridged tag. Each case ends with FNSAVE at a second place; the instruction and data
/// pointers are cleared in both images before the comparison (Unicorn does not track them), and so is FSW
/// apart from TOP (Unicorn raises no exception flags, X87DifferentialTests).
/// </summary>
public class X87EnvironmentDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(300);
    private const int ImageOffset = 0x280;

    public static IEnumerable<object[]> Forms64 => new[]
    {
        "Fnstenv_m28byte", "Fnstenv_m14byte", "Fldenv_m28byte", "Fldenv_m14byte",
        "Fnsave_m108byte", "Fnsave_m94byte", "Frstor_m108byte", "Frstor_m94byte", "Fxsave64_m512byte", "Fxrstor64_m512byte",
    }.Select(f => new object[] { f });

    public static IEnumerable<object[]> Forms32 => new[]
    {
        "Fnstenv_m28byte", "Fnstenv_m14byte", "Fldenv_m28byte", "Fnsave_m108byte", "Frstor_m108byte", "Fxsave_m512byte", "Fxrstor_m512byte",
    }.Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(Forms64))]
    public void Long64(string form) => DifferentialHarness.Verify(DiffMode.Long64, Cases(form, DiffMode.Long64));

    [Theory]
    [MemberData(nameof(Forms32))]
    public void Protected32(string form) => DifferentialHarness.Verify(DiffMode.Protected32, Cases(form, DiffMode.Protected32));

    private static IEnumerable<DiffCase> Cases(string form, DiffMode mode)
    {
        var r = new DiffRandom($"x87env-{form}-{mode}");
        var code = Forms.Get(form);
        bool wide = !form.Contains("m14") && !form.Contains("m94");
        bool fx = form.StartsWith("Fx");
        int envSize = wide ? 28 : 14, unit = wide ? 4 : 2;
        bool load = form.StartsWith("Fldenv") || form.StartsWith("Frstor") || form.StartsWith("Fxrstor");
        var baseRegister = mode == DiffMode.Long64 ? Register.RBX : Register.EBX;
        MemoryOperand At(int offset) => new(baseRegister, offset);
        for (int n = 0; n < Count; n++)
        {
            var c = new DiffCase(form, _ => { }) { Rflags = r.Flags(), FlagsMask = ReferenceState.CF | ReferenceState.PF | ReferenceState.ZF | ReferenceState.SF | ReferenceState.OF };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            c[Gpr.Rsp] = DiffLayout.StackTop;
            c[Gpr.Rbx] = Base;
            ushort control = (ushort)(0x1040 | 0x3F | r.Rng.Next(4) << 10 | r.Pick(new[] { 0, 2, 3 }) << 8);
            c.WithMemory(Base + ControlOffset, control, 2);
            int depth = r.Rng.Next(0, 8);
            for (int k = 0; k < depth; k++)
            {
                var (s, e) = Value(r);
                c.WithMemory(Base + OperandOffset + (ulong)(16 * k), s, 8).WithMemory(Base + OperandOffset + (ulong)(16 * k) + 8, e, 2);
            }
            if (load) WriteImage(r, c, form, wide, fx);
            c.ReferenceFix = state =>
            {
                ReservedOnes(state);
                if (!load && wide && !fx) ReservedOnes(state, ImageOffset);
            };
            yield return AluDifferentialTests.Rebuild(c, a =>
            {
                Forms.Emit(a, Code.Fninit);
                for (int k = 0; k < 8; k++) Forms.Emit(a, Code.Fldz);
                Forms.Emit(a, Code.Fninit);
                Forms.Emit(a, Code.Fldcw_m2byte, At(ControlOffset));
                for (int k = depth - 1; k >= 0; k--) Forms.Emit(a, Code.Fld_m80fp, At(OperandOffset + 16 * k));
                Forms.Emit(a, code, At(ImageOffset));
                if (!load && !fx)
                {
                    // FIP, FCS/FOP, FDP, FDS of the stored environment.
                    for (int w = 3; w < 7; w++) ClearWord(a, At(ImageOffset + w * unit), unit);
                }
                else if (fx && !load)
                {
                    ClearWord(a, At(ImageOffset + 6), 2);   // FOP (Unicorn does not store it)
                    for (int w = 8; w < 24; w += 4) ClearWord(a, At(ImageOffset + w), 4);
                }
                Forms.Emit(a, Code.Fnsave_m108byte, At(SaveOffset));
                for (int w = 12; w < 28; w += 4) ClearWord(a, At(SaveOffset + w), 4);
                Forms.Emit(a, Code.And_rm16_imm16, At(SaveOffset + 4), 0x3800);
            }, $"{form} ({mode}, depth {depth}, FCW {control:X4})");
        }
    }

    private static void ClearWord(Assembler a, MemoryOperand m, int size) =>
        Forms.Emit(a, size == 4 ? Code.Mov_rm32_imm32 : Code.Mov_rm16_imm16, m, 0);

    /// <summary>A random image to load: FCW with every exception masked, FSW with TOP and condition codes, a random tag, registers.</summary>
    private static void WriteImage(DiffRandom r, DiffCase c, string form, bool wide, bool fx)
    {
        ulong address = Base + ImageOffset;
        ushort control = (ushort)(0x1040 | 0x3F | r.Rng.Next(4) << 10 | r.Pick(new[] { 0, 2, 3 }) << 8);
        ushort status = (ushort)(r.Rng.Next(8) << 11 | (r.Rng.Next(16) & 0xF) << 8 & 0x4700);
        if (fx)
        {
            var image = new byte[512];
            r.Rng.NextBytes(image);
            BitConverter.TryWriteBytes(image.AsSpan(0), control);
            BitConverter.TryWriteBytes(image.AsSpan(2), status);
            image[4] = (byte)r.Rng.Next(256);
            image[5] = 0;
            BitConverter.TryWriteBytes(image.AsSpan(24), 0x1F80u);
            BitConverter.TryWriteBytes(image.AsSpan(28), 0xFFFFu);
            for (int st = 0; st < 8; st++)
            {
                var (s, e) = Value(r);
                BitConverter.TryWriteBytes(image.AsSpan(32 + 16 * st), s);
                BitConverter.TryWriteBytes(image.AsSpan(40 + 16 * st), e);
            }
            c.Memory.Add((address, image));
            return;
        }
        int unit = wide ? 4 : 2;
        var env = new byte[wide ? 28 : 14];
        r.Rng.NextBytes(env);
        BitConverter.TryWriteBytes(env.AsSpan(0), control);
        BitConverter.TryWriteBytes(env.AsSpan(unit), status);
        BitConverter.TryWriteBytes(env.AsSpan(2 * unit), (ushort)r.Rng.Next(0x10000));
        c.Memory.Add((address, env));
        if (!form.StartsWith("Frstor")) return;
        var registers = new byte[80];
        for (int st = 0; st < 8; st++)
        {
            var (s, e) = Value(r);
            BitConverter.TryWriteBytes(registers.AsSpan(10 * st), s);
            BitConverter.TryWriteBytes(registers.AsSpan(10 * st + 8), e);
        }
        c.Memory.Add((address + (ulong)env.Length, registers));
    }
}
