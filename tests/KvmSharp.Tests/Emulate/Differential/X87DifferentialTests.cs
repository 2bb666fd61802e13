using Iced.Intel;
using KvmSharp.Tests.Reference;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The x87 FPU of our CPU (Executor.X87*.cs, Emulate/Cpu/X87/) against Unicorn. Every case starts from a
/// known FPU: FNINIT, eight FLDZ (so empty registers hold zeros on both CPUs whatever ran before), FNINIT,
/// a random control word (all four rounding modes, the three precisions, exceptions masked), then up to
/// eight m80 operands loaded raw. After the instruction under test FNSAVE stores the whole FPU (control,
/// status, full tag word, ST0–ST7) into the data region, which the harness compares byte for byte; RFLAGS
/// (FCOMI) is captured in RCX first. Operands are edge values (±0, ±∞, QNaN, SNaN, the indefinite,
/// denormals, pseudo-denormals, the largest and smallest normals, integers and halves near the integer
/// limits) and random ones. Where Unicorn (QEMU 5 softfloat) deviates from the SDM the image is corrected
/// to the SDM's (Reference/README.md lists each deviation).
/// </summary>
public class X87DifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(400);

    internal const int ControlOffset = 0, OperandOffset = 0x10, MemoryOffset = 0x100, SaveOffset = 0x200;
    internal const ulong Base = DiffLayout.DataMiddle;

    /// <summary>Where FIP, FCS/FOP, FDP, FDS (16 bytes) sit in the FNSAVE image (32-bit layout): cleared before the comparison.</summary>
    private const int PointerOffset = 12;

    public static IEnumerable<object[]> BinaryForms =>
        new[] { "Fadd", "Fsub", "Fsubr", "Fmul", "Fdiv", "Fdivr" }.SelectMany(m => new[]
        {
            $"{m}_st0_sti", $"{m}_sti_st0", $"{m}p_sti_st0", $"{m}_m32fp", $"{m}_m64fp",
            $"Fi{m.Substring(1).ToLowerInvariant()}_m16int", $"Fi{m.Substring(1).ToLowerInvariant()}_m32int",
        }).Select(f => new object[] { f });

    public static IEnumerable<object[]> OtherForms => OtherFormNames.Where(f => !HostOnly.Contains(f)).Select(f => new object[] { f });

    public static IEnumerable<object[]> AllForms => BinaryForms.Concat(OtherFormNames.Select(f => new object[] { f }));

    /// <summary>Forms Unicorn computes in host doubles (QEMU 5 "FPREM"): checked against the host's x87 only.</summary>
    private static readonly string[] HostOnly = ["Fprem", "Fprem1"];

    private static readonly string[] OtherFormNames =
    [
        "Fsqrt", "Frndint", "Fchs", "Fabs", "Fscale", "Fxtract", "Fprem", "Fprem1", "Fxam", "Ftst",
        "Fcom_st0_sti", "Fcomp_st0_sti", "Fcompp", "Fucom_st0_sti", "Fucomp_st0_sti", "Fucompp",
        "Fcom_m32fp", "Fcom_m64fp", "Fcomp_m64fp", "Ficom_m16int", "Ficomp_m32int",
        "Fcomi_st0_sti", "Fcomip_st0_sti", "Fucomi_st0_sti", "Fucomip_st0_sti",
        "Fld_m32fp", "Fld_m64fp", "Fld_m80fp", "Fld_sti", "Fild_m16int", "Fild_m32int", "Fild_m64int", "Fbld_m80bcd",
        "Fld1", "Fldz", "Fldpi", "Fldl2e", "Fldl2t", "Fldlg2", "Fldln2",
        "Fst_m32fp", "Fst_m64fp", "Fstp_m32fp", "Fstp_m64fp", "Fstp_m80fp", "Fst_sti", "Fstp_sti",
        "Fist_m16int", "Fist_m32int", "Fistp_m16int", "Fistp_m32int", "Fistp_m64int",
        "Fisttp_m16int", "Fisttp_m32int", "Fisttp_m64int", "Fbstp_m80bcd",
        "Fxch_st0_sti", "Ffree_sti", "Fincstp", "Fdecstp", "Fnop",
        "Fcmovb_st0_sti", "Fcmove_st0_sti", "Fcmovbe_st0_sti", "Fcmovu_st0_sti",
        "Fcmovnb_st0_sti", "Fcmovne_st0_sti", "Fcmovnbe_st0_sti", "Fcmovnu_st0_sti",
    ];

    [Theory]
    [MemberData(nameof(BinaryForms))]
    public void Arithmetic(string form) => DifferentialHarness.Verify(DiffMode.Long64, Cases(form));

    [Theory]
    [MemberData(nameof(OtherForms))]
    public void Instruction(string form) => DifferentialHarness.Verify(DiffMode.Long64, Cases(form));

    /// <summary>
    /// The same cases, plus empty and full stacks, against the host's x87 with nothing masked: exception flags,
    /// SF, ES, B, C1 and every condition code, the stored memory operand and (FCOMI) RFLAGS.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllForms))]
    public void AgainstHost(string form)
    {
        using var harness = new DifferentialHarness(DiffMode.Long64);
        using var host = new HostX87();
        var failures = new List<string>();
        int total = 0, failed = 0;
        bool flags = form.StartsWith("Fcomi") || form.StartsWith("Fucomi");
        foreach (var c in Cases(form, host: true))
        {
            total++;
            var (outcome, state) = harness.RunOurs(c);
            var expected = new byte[HostSize];
            foreach (var (address, bytes) in c.Memory)
                if (address >= Base && address + (ulong)bytes.Length <= Base + HostSize) bytes.CopyTo(expected, (int)(address - Base));
            host.Run(c.Emit, expected, c.Rflags);
            var ours = state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes.AsSpan((int)(Base - DiffLayout.Data), HostSize);
            string? difference = outcome != DiffOutcome.Halted ? $"outcome {outcome}" : null;
            foreach (var (start, length) in new[] { (MemoryOffset, 16), (SaveOffset, 108), (FlagsOffset, flags ? 8 : 0) })
                if (!ours.Slice(start, length).SequenceEqual(expected.AsSpan(start, length)))
                    difference += $" +0x{start:X}: host {Convert.ToHexString(expected, start, length)}, ours {Convert.ToHexString(ours.Slice(start, length))}";
            if (difference is null) continue;
            failed++;
            if (failures.Count < 8) failures.Add($"[{c.Name}] operands {Describe(c)}\n  {difference}");
        }
        if (failed > 0) Assert.Fail($"{failed} of {total} cases differ from the host x87 (seed {DiffRandom.Seed}):\n" + string.Join("\n", failures));
    }

    private const int HostSize = 0x300, FlagsOffset = 0x280;

    private static string Describe(DiffCase c) => string.Join(" ", c.Memory.Select(m => $"{m.Address - Base:X}:{Convert.ToHexString(m.Bytes)}"));

    private static IEnumerable<DiffCase> Cases(string form, bool host = false)
    {
        // Unicorn (QEMU 5) raises no x87 exception flags, no SF/ES/B and no round-up C1, and leaves the condition
        // codes the SDM calls undefined as it likes: its comparison keeps TOP, and C0, C2, C3 where they are results
        // (comparisons, FXAM, FPREM), and C1 where it is a result bit (FXAM's sign, FPREM's Q0).
        bool conditions = form.StartsWith("Fcom") && !form.StartsWith("Fcomi") || form.StartsWith("Fucom") && !form.StartsWith("Fucomi")
            || form.StartsWith("Ficom") || form is "Ftst" or "Fxam" or "Fprem" or "Fprem1";
        int statusMask = 0x3800 | (conditions ? 0x4500 : 0) | (form is "Fxam" or "Fprem" or "Fprem1" ? 0x200 : 0);
        var code = Forms.Get(form);
        var r = new DiffRandom($"x87-{form}");
        var info = code.ToOpCode();
        for (int n = 0; n < Count; n++)
        {
            var c = new DiffCase(form, _ => { }) { Rflags = r.Flags(), FlagsMask = ReferenceState.CF | ReferenceState.PF | ReferenceState.ZF | ReferenceState.SF | ReferenceState.OF };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            c[Gpr.Rsp] = DiffLayout.StackTop;
            c[Gpr.Rbx] = Base;
            int sti = r.Rng.Next(8);
            // Unicorn (QEMU 5) detects no stack overflow or underflow: its cases keep the stack deep enough and not
            // full. The host's x87 also gets empty and full stacks.
            int pushes = form.StartsWith("Fld") || form.StartsWith("Fild") || form.StartsWith("Fbld") || form is "Fxtract" or "Fdecstp" ? 1 : 0;
            int needed = Math.Max(2, form.Contains("sti") ? sti + 1 : 0);
            int depth = host ? (r.Chance(8) ? 0 : r.Chance(8) ? 8 : r.Chance(60) ? needed : r.Rng.Next(0, 9))
                : r.Rng.Next(Math.Min(needed, 8 - pushes), 9 - pushes);
            if (!host && sti >= depth) sti = r.Rng.Next(depth);
            // Unicorn rounds FSCALE to the precision control, which the SDM applies only to the basic arithmetic
            // (vol 1 §8.1.5.2): its FSCALE cases use 64 bits.
            int precision = !host && form == "Fscale" ? 3 : r.Pick(new[] { 0, 2, 3 });
            // The host also runs with exceptions unmasked (nothing after the instruction waits, so none is delivered:
            // FNSAVE does not wait): the SDM's unmasked responses are compared there.
            // Comparisons keep IE and DE masked: on an unmasked #IA or #D the SDM leaves the condition codes
            // ("FCOM", "FCOMI") where AMD parts set them; FLD m32fp/m64fp keeps DE masked: the SDM leaves the stack
            // on an unmasked #D where AMD parts load (Reference/README.md).
            int masks = host && r.Chance(30) ? r.Rng.Next(0x40) | (conditions || form.Contains("comi") ? 3 : form.StartsWith("Fld_m") ? 2 : 0) : 0x3F;
            if (depth < needed || depth + pushes > 8) masks |= 1;   // unmasked stack faults are not compared (Reference/README.md)
            ushort control = (ushort)(0x1040 | masks | r.Rng.Next(4) << 10 | precision << 8);
            c.WithMemory(Base + ControlOffset, control, 2);
            for (int k = 0; k < depth; k++)
            {
                var (significand, signExponent) = Value(r);
                while (!host && !UnicornOperand(form, k, significand, signExponent)) (significand, signExponent) = Value(r);
                c.WithMemory(Base + OperandOffset + (ulong)(16 * k), significand, 8).WithMemory(Base + OperandOffset + (ulong)(16 * k) + 8, signExponent, 2);
            }
            var memoryOperand = new MemoryOperand(Register.RBX, (long)MemoryOffset);
            c.WithMemory(Base + MemoryOffset, 0, 8).WithMemory(Base + MemoryOffset + 8, 0, 8);
            WriteMemoryOperand(r, c, code);
            var stRegister = Register.ST0 + sti;
            Action<ReferenceState>? fix = form switch
            {
                _ when TruncatedConstants.ContainsKey(form) => state => FixConstant(state, form, control),
                _ when form.StartsWith("Fcomi") || form.StartsWith("Fucomi") => FixComparisonFlags,
                "Fld_m32fp" or "Fld_m64fp" => QuietLoadedNaN,
                "Fst_m32fp" or "Fstp_m32fp" => state => QuietStoredNaN(state, 4),
                "Fst_m64fp" or "Fstp_m64fp" => state => QuietStoredNaN(state, 8),
                _ => null,
            };
            c.ReferenceFix = state =>
            {
                ReservedOnes(state);
                fix?.Invoke(state);
            };
            yield return AluDifferentialTests.Rebuild(c, a =>
            {
                a.fninit();
                for (int k = 0; k < 8; k++) a.fldz();
                a.fninit();
                a.fldcw(__word_ptr[rbx + ControlOffset]);
                for (int k = depth - 1; k >= 0; k--) a.fld(__tword_ptr[rbx + OperandOffset + 16 * k]);
                object[] operands = info.OpCount switch
                {
                    0 => [],
                    _ when info.Op0Kind == OpCodeOperandKind.mem => [memoryOperand],
                    1 => [stRegister],
                    _ when info.Op0Kind == OpCodeOperandKind.st0 => [Register.ST0, stRegister],
                    _ => [stRegister, Register.ST0],
                };
                Forms.Emit(a, code, operands);
                a.pushfq();
                a.pop(rcx);
                a.and(rcx, 0x8D5);
                a.fnsave(__[rbx + SaveOffset]);
                if (!host) a.and(__word_ptr[rbx + SaveOffset + 4], statusMask);
                a.mov(__qword_ptr[rbx + SaveOffset + PointerOffset], 0);
                a.mov(__qword_ptr[rbx + SaveOffset + PointerOffset + 8], 0);
                a.mov(__qword_ptr[rbx + FlagsOffset], rcx);
            }, $"{form} (depth {depth}, FCW {control:X4})");
        }
    }

    /// <summary>The memory operand of the form under test: a value of its type at rbx+0x100.</summary>
    private static void WriteMemoryOperand(DiffRandom r, DiffCase c, Code code)
    {
        ulong address = Base + MemoryOffset;
        string name = code.ToString();
        if (name.EndsWith("m32fp")) c.WithMemory(address, Single(r), 4);
        else if (name.EndsWith("m64fp")) c.WithMemory(address, Double(r), 8);
        else if (name.EndsWith("m80fp"))
        {
            var (significand, signExponent) = Value(r);
            c.WithMemory(address, significand, 8).WithMemory(address + 8, signExponent, 2);
        }
        else if (name.EndsWith("m16int")) c.WithMemory(address, r.Value(2), 2);
        else if (name.EndsWith("m32int")) c.WithMemory(address, r.Value(4), 4);
        else if (name.EndsWith("m64int")) c.WithMemory(address, r.Value(8), 8);
        else if (name.EndsWith("m80bcd"))
        {
            ulong digits = 0;
            for (int d = 0; d < 16; d++) digits |= (ulong)r.Rng.Next(10) << (4 * d);
            c.WithMemory(address, digits, 8).WithMemory(address + 8, (ulong)(uint)(r.Rng.Next(10) << 4 | r.Rng.Next(10)) | (r.Chance(50) ? 0x8000UL : 0), 2);
        }
    }

    /// <summary>
    /// Operands (ST(<paramref name="st"/>)) Unicorn handles as the SDM says. It gives FXTRACT of NaN, ∞, 0 and
    /// denormals other results, FBSTP of NaN, ∞, values beyond 18 digits something other than the BCD indefinite
    /// and of negative values that round to 0 a +0, FISTTP out of range a saturated integer instead of the
    /// integer indefinite, and FSCALE an SNaN unquieted, a NaN or ∞ in ST(1) other results: those operands are
    /// checked against the host only.
    /// </summary>
    private static bool UnicornOperand(string form, int st, ulong significand, ushort signExponent)
    {
        int exponent = signExponent & 0x7FFF;
        bool finite = exponent == 0 ? significand != 0 : exponent != 0x7FFF && (significand >> 63) != 0;
        bool signaling = exponent == 0x7FFF && (significand >> 62) == 2 && (significand << 2) != 0;
        if (form == "Fscale") return st == 0 ? !signaling : st > 1 || exponent != 0x7FFF;
        if (st != 0) return true;
        return form switch
        {
            "Fxtract" => finite && exponent != 0,
            "Fbstp_m80bcd" => finite && exponent >= 16383 && exponent < 16383 + 59,
            "Fisttp_m16int" => finite && exponent < 16383 + 15,
            "Fisttp_m32int" => finite && exponent < 16383 + 31,
            "Fisttp_m64int" => finite && exponent < 16383 + 63,
            _ => true,
        };
    }

    /// <summary>Unicorn stores an SNaN to m32fp/m64fp unquieted; the SDM quiets it (#IA masked, "FST").</summary>
    private static void QuietStoredNaN(ReferenceState state, int size)
    {
        var stored = state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes.AsSpan((int)(Base - DiffLayout.Data) + MemoryOffset, size);
        ulong bits = size == 4 ? BitConverter.ToUInt32(stored) : BitConverter.ToUInt64(stored);
        ulong exponent = size == 4 ? 0x7F80_0000UL : 0x7FF0_0000_0000_0000UL, quiet = size == 4 ? 1UL << 22 : 1UL << 51;
        ulong fraction = quiet | (quiet - 1);
        if ((bits & exponent) == exponent && (bits & fraction) != 0 && (bits & quiet) == 0)
        {
            bits |= quiet;
            if (size == 4) BitConverter.TryWriteBytes(stored, (uint)bits); else BitConverter.TryWriteBytes(stored, bits);
        }
    }

    private static Span<byte> Image(ReferenceState state) =>
        state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes.AsSpan((int)(Base - DiffLayout.Data) + SaveOffset, 108);

    /// <summary>
    /// Unicorn stores zeros in the reserved upper halves of FCW, FSW and FTW in the 32-bit FSTENV/FSAVE layout;
    /// hardware stores ones there (checked on the host, <see cref="AgainstHost"/>).
    /// </summary>
    internal static void ReservedOnes(ReferenceState state, int offset = SaveOffset)
    {
        var image = state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes.AsSpan((int)(Base - DiffLayout.Data) + offset, 12);
        for (int n = 0; n < 3; n++) image[4 * n + 2] = image[4 * n + 3] = 0xFF;
    }

    /// <summary>The constants truncated to 64 bits (π, log2 e, log2 10, log10 2, ln 2 are all inexact there).</summary>
    private static readonly Dictionary<string, ulong> TruncatedConstants = new()
    {
        ["Fldpi"] = 0xC90F_DAA2_2168_C234, ["Fldl2e"] = 0xB8AA_3B29_5C17_F0BB, ["Fldl2t"] = 0xD49A_784B_CD1B_8AFE,
        ["Fldlg2"] = 0x9A20_9A84_FBCF_F798, ["Fldln2"] = 0xB172_17F7_D1CF_79AB,
    };

    /// <summary>
    /// Unicorn loads every constant rounded to nearest; the SDM rounds it by RC (vol 1 §8.3.8): down and toward
    /// zero give the truncated significand, up the next one.
    /// </summary>
    private static void FixConstant(ReferenceState state, string form, ushort control)
    {
        int rounding = (control >> 10) & 3;
        if (rounding == 0) return;
        ulong significand = TruncatedConstants[form] + (rounding == 2 ? 1UL : 0);
        BitConverter.TryWriteBytes(Image(state)[28..], significand);
    }

    /// <summary>Unicorn keeps OF, SF and AF across FCOMI/FUCOMI; the SDM clears them ("FCOMI").</summary>
    private static void FixComparisonFlags(ReferenceState state)
    {
        const ulong cleared = ReferenceState.OF | ReferenceState.SF | ReferenceState.AF;
        state.Gprs[1] &= ~cleared;
        var data = state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes.AsSpan((int)(Base - DiffLayout.Data) + FlagsOffset, 8);
        BitConverter.TryWriteBytes(data, BitConverter.ToUInt64(data) & ~cleared);
        // The PUSHFQ image sits just below the case's stack top.
        var stack = state.Memory.Single(m => m.Address == DiffLayout.Stack).Bytes.AsSpan((int)(DiffLayout.StackTop - 8 - DiffLayout.Stack), 8);
        BitConverter.TryWriteBytes(stack, BitConverter.ToUInt64(stack) & ~cleared);
    }

    /// <summary>Unicorn loads an m32fp/m64fp SNaN as an SNaN; the SDM loads it quieted (#IA masked, "FLD").</summary>
    private static void QuietLoadedNaN(ReferenceState state)
    {
        var image = Image(state);
        bool nan = (BitConverter.ToUInt16(image[36..]) & 0x7FFF) == 0x7FFF && (BitConverter.ToUInt64(image[28..]) << 1) != 0;
        if (nan) image[35] |= 0x40;
    }

    /// <summary>An 80-bit operand: an edge value or a random one (significand, sign and exponent).</summary>
    internal static (ulong Significand, ushort SignExponent) Value(DiffRandom r)
    {
        ushort sign = (ushort)(r.Chance(50) ? 0x8000 : 0);
        ulong random = r.Next64();
        (ulong s, int e) = r.Rng.Next(24) switch
        {
            0 => (0UL, 0),
            1 => (1UL << 63, 0x7FFF),
            2 => (0xC000_0000_0000_0000 | random >> 2, 0x7FFF),
            3 => (0x8000_0000_0000_0000 | (random >> 2 | 1), 0x7FFF),
            4 => (0xC000_0000_0000_0000, 0x7FFF),
            5 => (random >> 1 >> r.Rng.Next(63), 0),
            6 => (ulong.MaxValue, 0x7FFE),
            7 => (1UL << 63, 1),
            8 => (1UL << 63 | random >> 1 >> r.Rng.Next(63), r.Rng.Next(1, 4)),
            9 or 10 => Integer(r),
            11 => (r.Pick(new[] { 1UL << 63, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_0000_0000, 0xFFFF_0000_0000_0000, 0x8000_0000_0000_0001 }), 16383 + r.Pick(new[] { 14, 15, 16, 30, 31, 32, 62, 63, 64 })),
            12 => (1UL << 63 | random >> 1, 16383 + r.Rng.Next(-3, 3)),
            13 => (1UL << 63 | random >> 1, r.Rng.Next(1, 0x7FFF)),
            14 => (1UL << 63 | random >> 1 & 0xFFFF_FFFF_FF00_0000, 16383 + r.Rng.Next(-20, 20)),
            _ => (1UL << 63 | random >> 1, 16383 + r.Rng.Next(-70, 70)),
        };
        return (s, (ushort)(e | sign));
    }

    /// <summary>Integers and halves up to the int64 range: what FRNDINT, FIST and FPREM round.</summary>
    private static (ulong, int) Integer(DiffRandom r)
    {
        int bits = r.Pick(new[] { 1, 2, 3, 8, 15, 16, 17, 31, 32, 33, 62, 63, 64 });
        ulong magnitude = (r.Next64() >> (64 - bits)) | 1UL << (bits - 1);
        int extra = r.Chance(50) ? 1 : 0;   // one fraction bit: x.5
        int total = bits + extra;
        ulong significand = total > 64 ? magnitude : magnitude << (64 - bits) | (extra == 1 && r.Chance(50) ? 1UL << (63 - bits) : 0);
        return (significand, 16383 + bits - 1);
    }

    private static ulong Single(DiffRandom r) => r.Rng.Next(10) switch
    {
        0 => r.Pick(new uint[] { 0u, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFFA0_0000, 0x7F7F_FFFF, 0x0080_0000 }),
        1 => (uint)r.Rng.Next(1, 0x80_0000) | (r.Chance(50) ? 0x8000_0000 : 0),
        2 => BitConverter.SingleToUInt32Bits(r.Rng.Next(-70000, 70000) / (r.Chance(50) ? 1f : 2f)),
        _ => (uint)r.Next64(),
    };

    private static ulong Double(DiffRandom r) => r.Rng.Next(10) switch
    {
        0 => r.Pick(new ulong[] { 0UL, 0x8000_0000_0000_0000, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000,
            0x7FF0_0000_0000_0001, 0xFFF4_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000 }),
        1 => (r.Next64() & 0x000F_FFFF_FFFF_FFFF) | (r.Chance(50) ? 0x8000_0000_0000_0000 : 0),
        2 => BitConverter.DoubleToUInt64Bits(r.Rng.NextInt64(-1L << 40, 1L << 40) / (r.Chance(50) ? 1.0 : 2.0)),
        _ => r.Next64(),
    };
}
