using Iced.Intel;
using KvmSharp.Tests.Reference;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The SSE/SSE2 subset of our CPU (Executor.Sse.cs) in 64-bit mode: every listed mnemonic in each of its
/// legacy-SSE forms (Iced codes), register and memory operands (aligned and misaligned: the 128-bit forms
/// other than MOVDQU/MOVUPS/MOVUPD raise #GP on a misaligned operand, SDM vol 1 §11.6.6), XMM contents
/// built from edge lanes (0, all ones, 0x80 bytes, signed boundaries, ±0.0, NaNs, ±∞, huge, tiny and
/// denormal doubles), and #UD while CR4.OSFXSR is clear (SDM vol 3 §2.5).
/// </summary>
public class SseDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(500);

    public static readonly string[] Mnemonics =
    [
        "Movdqa", "Movdqu", "Movaps", "Movups", "Movapd", "Movupd", "Movd", "Movq", "Movss", "Movsd",
        "Pxor", "Por", "Pand", "Pandn", "Xorps", "Xorpd", "Orps", "Orpd", "Andps", "Andpd", "Andnps", "Andnpd",
        "Paddb", "Paddw", "Paddd", "Paddq", "Psubb", "Psubw", "Psubd", "Psubq", "Pcmpeqb", "Pcmpeqw", "Pcmpeqd",
        "Pminub", "Pmaxub", "Punpcklbw", "Punpcklqdq", "Punpckhqdq", "Pmovmskb", "Pshufd",
        "Psllq", "Psrlq", "Pslld", "Psrld", "Psllw", "Psrlw", "Pslldq", "Psrldq",
        "Addsd", "Subsd", "Mulsd", "Divsd", "Sqrtsd", "Cvtsi2sd", "Cvttsd2si", "Ucomisd", "Comisd",
    ];

    public static IEnumerable<object[]> MnemonicData => Mnemonics.Select(m => new object[] { m });

    private static readonly double[] Doubles =
    [
        0.0, -0.0, 1.0, -1.0, 1.5, -1.5, 2.0, 0.5, 3.0, 10.0, -2.5, 0.1,
        double.PositiveInfinity, double.NegativeInfinity, double.MaxValue, -double.MaxValue,
        double.Epsilon, -double.Epsilon, 2.2250738585072014E-308, 1e300, -1e300, 1e-300, 1e-320,
        9.2233720368547758E18, -9.2233720368547758E18, 9.2233720368547748E18, 2147483647.0, 2147483648.0, -2147483648.0,
        -2147483649.0, 2147483647.5, -2147483648.5, 4294967296.0, 1.8446744073709552E19, 0.49999999999999994, -0.5,
    ];

    private static readonly ulong[] NaNs =
    [
        0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FF0_0000_0000_0001, 0xFFF0_0000_0000_0001,
        0x7FF8_0000_0000_1234, 0x7FF4_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF,
    ];

    [Theory]
    [MemberData(nameof(MnemonicData))]
    public void Instruction(string mnemonic)
    {
        var forms = FormsOf(mnemonic);
        Assert.NotEmpty(forms);
        DifferentialHarness.Verify(DiffMode.Long64, Cases(mnemonic, (r, c) => Build(r, c, r.Pick(forms))));
    }

    [Fact]
    public void MxcsrLoadStore() => DifferentialHarness.Verify(DiffMode.Long64, Cases("mxcsr", (r, c) =>
    {
        // LDMXCSR then STMXCSR elsewhere: reserved bits 31:16 set raise #GP (SDM "LDMXCSR"; MXCSR_MASK 0xFFFF).
        uint value = r.Chance(15) ? (uint)r.Next64() : r.Chance(50) ? 0x1F80u | (uint)r.Rng.Next(0x80) : (uint)r.Rng.Next(0x10000);
        var load = Forms.Memory(r, c, 64, 4);
        c.WithMemory(load.Address, value, 4);
        var store = Forms.Memory(r, c, 64, 4, Bases(load));
        // Unicorn (QEMU 5) loads reserved MXCSR bits without a fault; the SDM's #GP is asserted (Reference/README.md).
        if (value > 0xFFFF) c.SdmFault = 13;
        return a =>
        {
            Forms.Emit(a, Forms.Get("Ldmxcsr_m32"), load.Memory);
            Forms.Emit(a, Forms.Get("Stmxcsr_m32"), store.Memory);
        };
    }));

    [Theory]
    [InlineData("Fxsave_m512byte"), InlineData("Fxsave64_m512byte")]
    public void Fxsave(string form) => DifferentialHarness.Verify(DiffMode.Long64, Cases(form, (r, c) =>
    {
        // FNINIT first, so the x87 part of the image is the architectural initial state on both CPUs.
        for (int x = 0; x < 16; x++) c.Xmm[x] = XmmValue(r, r.Chance(50));
        var m = Forms.Memory(r, c, 64, 512);
        bool ldmxcsr = r.Chance(50);
        var control = Forms.Memory(r, c, 64, 4, Bases(m));
        if (ldmxcsr) c.WithMemory(control.Address, (ulong)r.Rng.Next(0x10000), 4);
        // Unicorn (QEMU 5) does not store FOP (bytes 6–7); after FNINIT it is 0 (SDM "FINIT/FNINIT"; Reference/README.md).
        ulong fop = m.Address + 6;
        c.ReferenceFix = state => state.Memory.Single(x => x.Address == DiffLayout.Data).Bytes.AsSpan((int)(fop - DiffLayout.Data), 2).Clear();
        var code = Forms.Get(form);
        CurrentForm = form;
        return a =>
        {
            a.fninit();
            if (ldmxcsr) Forms.Emit(a, Forms.Get("Ldmxcsr_m32"), control.Memory);
            Forms.Emit(a, code, m.Memory);
        };
    }, Math.Min(Count, 200)));

    [Theory]
    [InlineData("Fxrstor_m512byte"), InlineData("Fxrstor64_m512byte")]
    public void Fxrstor(string form) => DifferentialHarness.Verify(DiffMode.Long64, Cases(form, (r, c) =>
    {
        // An image with random XMM contents and an MXCSR that is valid most of the time (else #GP, SDM "FXRSTOR").
        var m = Forms.Memory(r, c, 64, 512);
        var image = new byte[512];
        r.Rng.NextBytes(image);
        BitConverter.TryWriteBytes(image.AsSpan(0), (ushort)0x37F);
        BitConverter.TryWriteBytes(image.AsSpan(2), (ushort)0);
        image[4] = 0;
        bool reserved = r.Chance(10);
        BitConverter.TryWriteBytes(image.AsSpan(24), reserved ? (uint)r.Next64() | 0x10000 : (uint)r.Rng.Next(0x10000));
        for (int x = 0; x < 16; x++)
        {
            var v = XmmValue(r, r.Chance(50));
            BitConverter.TryWriteBytes(image.AsSpan(160 + 16 * x), (ulong)v);
            BitConverter.TryWriteBytes(image.AsSpan(168 + 16 * x), (ulong)(v >> 64));
        }
        c.Memory.Add((m.Address, image));
        // Unicorn (QEMU 5) loads reserved MXCSR bits without a fault; the SDM's #GP is asserted (Reference/README.md).
        if (reserved) c.SdmFault = 13;
        var code = Forms.Get(form);
        CurrentForm = form;
        return a => Forms.Emit(a, code, m.Memory);
    }, Math.Min(Count, 200)));

    [Fact]
    public void WithoutOsfxsr() => DifferentialHarness.Verify(DiffMode.Long64, Cases("no-osfxsr", (r, c) =>
    {
        // Unicorn (QEMU 5) runs SSE with CR4.OSFXSR clear; the SDM's #UD is asserted instead (Reference/README.md).
        // #UD comes before any memory fault (SDM vol 3 §2.5, "Exceptions" of each instruction).
        c.Osfxsr = false;
        Action<Assembler> emit;
        if (r.Chance(10))
        {
            var m = Forms.Memory(r, c, 64, 4);
            c.WithMemory(m.Address, 0x1F80, 4);
            var code = Forms.Get(r.Chance(50) ? "Ldmxcsr_m32" : "Stmxcsr_m32");
            emit = a => Forms.Emit(a, code, m.Memory);
        }
        else emit = Build(r, c, r.Pick(FormsOf(r.Pick(Mnemonics))));
        c.SdmFault = 6;
        c.ReferenceFix = null;
        return emit;
    }, Math.Min(Count, 300)));

    /// <summary>Forms whose 128-bit memory operand may be misaligned (SDM vol 1 §11.6.6, "MOVDQU", "MOVUPS", "MOVUPD").</summary>
    private static bool Unaligned(string form) => form.StartsWith("Movdqu", StringComparison.Ordinal) || form.StartsWith("Movups", StringComparison.Ordinal) || form.StartsWith("Movupd", StringComparison.Ordinal);

    /// <summary>The registers a memory operand's address uses, which later operands must leave alone.</summary>
    private static int[] Bases(Rm m) =>
        [.. new[] { m.Memory.Base, m.Memory.Index }.Where(x => x != Register.None).Select(x => (int)(x.GetFullRegister() - Register.RAX))];

    private static readonly Dictionary<string, string[]> FormCache = [];

    [ThreadStatic] private static string? CurrentForm;

    /// <summary>The legacy-SSE Iced codes of a mnemonic: operands are xmm, xmmmNN, rmNN, rNN, mNN or imm8 (no MMX forms).</summary>
    private static string[] FormsOf(string mnemonic)
    {
        lock (FormCache)
        {
            if (FormCache.TryGetValue(mnemonic, out var cached)) return cached;
            var forms = Enum.GetNames<Code>()
                .Where(n => n.StartsWith(mnemonic + "_", StringComparison.Ordinal))
                .Where(n => n.Split('_').Skip(1).Any(t => t.StartsWith("xmm", StringComparison.Ordinal)))
                .Where(n => !n.Split('_').Skip(1).Any(t => t.StartsWith("mm", StringComparison.Ordinal) || t.StartsWith("k", StringComparison.Ordinal)))
                .ToArray();
            return FormCache[mnemonic] = forms;
        }
    }

    private static Action<Assembler> Build(DiffRandom r, DiffCase c, string form)
    {
        var code = Forms.Get(form);
        CurrentForm = form;
        var tokens = form.Split('_').Skip(1).ToArray();
        bool memory = r.Chance(35);
        bool doubles = form.Contains("sd_", StringComparison.Ordinal) || form.StartsWith("Ucomisd", StringComparison.Ordinal)
            || form.StartsWith("Comisd", StringComparison.Ordinal) || form.Contains("pd_", StringComparison.Ordinal);
        for (int x = 0; x < 16; x++) c.Xmm[x] = XmmValue(r, doubles);
        if (form.StartsWith("Ucomisd", StringComparison.Ordinal) || form.StartsWith("Comisd", StringComparison.Ordinal))
        {
            // Equal operands now and then, so ZF=1/CF=0 comes up.
            if (r.Chance(20)) c.Xmm[r.Rng.Next(16)] = c.Xmm[r.Rng.Next(16)];
        }
        var operands = new List<object>();
        foreach (var t in tokens)
        {
            switch (t)
            {
                case "xmm":
                    operands.Add(Register.XMM0 + r.Rng.Next(16));
                    break;
                case "xmmm128" or "xmmm64" or "xmmm32" or "rm32" or "rm64" or "m32" or "m64" or "m128":
                {
                    int size = t.EndsWith("128", StringComparison.Ordinal) ? 16 : t.EndsWith("64", StringComparison.Ordinal) ? 8 : 4;
                    bool isXmm = t.StartsWith("xmm", StringComparison.Ordinal);
                    if (memory || t.StartsWith("m", StringComparison.Ordinal))
                    {
                        var m = Forms.Memory(r, c, 64, size);
                        var bytes = new byte[16];
                        var v = doubles || isXmm ? XmmValue(r, doubles) : r.Register(size);
                        BitConverter.TryWriteBytes(bytes, (ulong)v);
                        BitConverter.TryWriteBytes(bytes.AsSpan(8), (ulong)(v >> 64));
                        c.Memory.Add((m.Address, bytes[..size]));
                        // Unicorn (QEMU 5) never checks SSE alignment: the SDM's #GP is asserted instead (Reference/README.md).
                        if (size == 16 && (m.Address & 15) != 0 && !Unaligned(form)) c.SdmFault = 13;
                        operands.Add(m.Memory);
                    }
                    else if (isXmm)
                    {
                        operands.Add(Register.XMM0 + r.Rng.Next(16));
                    }
                    else
                    {
                        int n = r.GprIndex(64);
                        c.Gprs[n] = r.Register(size);
                        operands.Add(DiffRandom.Gpr(n, size));
                    }
                    break;
                }
                case "r32" or "r64":
                    operands.Add(DiffRandom.Gpr(r.GprIndex(64), t == "r32" ? 4 : 8));
                    break;
                case "imm8":
                    operands.Add(r.Chance(50) ? DiffRandom.ShiftCounts[r.Rng.Next(DiffRandom.ShiftCounts.Length)] : r.Rng.Next(256));
                    break;
                default:
                    throw new ArgumentException($"{form}: operand {t}");
            }
        }
        // Shift counts from a register or memory: small counts most of the time, so lanes are not just cleared.
        if (form.StartsWith("Ps", StringComparison.Ordinal) && form.EndsWith("xmmm128", StringComparison.Ordinal) && r.Chance(70))
        {
            ulong count = r.Chance(80) ? (ulong)r.Rng.Next(70) : r.Pick(new ulong[] { 1UL << 32, 1UL << 63, ulong.MaxValue, 0x100 });
            if (operands[1] is Register s) c.Xmm[s - Register.XMM0] = new UInt128((ulong)(c.Xmm[s - Register.XMM0] >> 64), count);
            else
            {
                var (address, bytes) = c.Memory[^1];
                BitConverter.TryWriteBytes(bytes, count);
                c.Memory[^1] = (address, bytes);
            }
        }
        if (form.Split('_')[0] is "Addsd" or "Subsd" or "Mulsd" or "Divsd")
            c.ReferenceFix = SseNaN((Register)operands[0] - Register.XMM0, c.Xmm[(Register)operands[0] - Register.XMM0],
                operands[1] is Register s2 ? (ulong)c.Xmm[s2 - Register.XMM0] : BitConverter.ToUInt64(c.Memory[^1].Bytes));
        var ops = operands.ToArray();
        return a => Forms.Emit(a, code, ops);
    }

    /// <summary>
    /// Unicorn (QEMU 5) picks among NaN operands by the x87 rule (larger significand, QNaN over SNaN); the
    /// SDM's SSE rule (vol 1 Table 4-7) returns the first source's NaN, else the second's, quieted. When an
    /// operand is a NaN the expected low qword is the SDM's (Reference/README.md).
    /// </summary>
    private static Action<ReferenceState>? SseNaN(int destination, UInt128 first, ulong second)
    {
        const ulong quiet = 1UL << 51;
        ulong a = (ulong)first;
        ulong? nan = double.IsNaN(BitConverter.UInt64BitsToDouble(a)) ? a | quiet
            : double.IsNaN(BitConverter.UInt64BitsToDouble(second)) ? second | quiet : null;
        if (nan is not { } value) return null;
        return state => state.Xmm[destination] = (state.Xmm[destination] & ~(UInt128)ulong.MaxValue) | value;
    }

    /// <summary>An XMM value of edge lanes: bytes, words, dwords or qwords at their boundaries, or doubles.</summary>
    private static UInt128 XmmValue(DiffRandom r, bool doubles)
    {
        int shape = doubles ? (r.Chance(80) ? 4 : r.Rng.Next(6)) : r.Rng.Next(7);
        Span<byte> b = stackalloc byte[16];
        switch (shape)
        {
            case 0:
                b.Fill(r.Pick(new byte[] { 0, 0xFF, 0x80, 0x7F }));
                break;
            case 1:
                for (int k = 0; k < 16; k++) b[k] = r.Chance(60) ? r.Pick(new byte[] { 0, 0xFF, 0x80, 0x7F, 0x01, 0x81, 0xFE }) : (byte)r.Rng.Next(256);
                break;
            case 2:
                for (int k = 0; k < 8; k++) BitConverter.TryWriteBytes(b[(2 * k)..], r.Chance(60) ? r.Pick(new ushort[] { 0, 0xFFFF, 0x8000, 0x7FFF, 1, 0x8001 }) : (ushort)r.Rng.Next(65536));
                break;
            case 3:
                for (int k = 0; k < 4; k++) BitConverter.TryWriteBytes(b[(4 * k)..], (uint)r.Value(4));
                break;
            case 4:
                for (int k = 0; k < 2; k++) BitConverter.TryWriteBytes(b[(8 * k)..], DoubleBits(r));
                break;
            default:
                for (int k = 0; k < 2; k++) BitConverter.TryWriteBytes(b[(8 * k)..], r.Value(8));
                break;
        }
        return new UInt128(BitConverter.ToUInt64(b[8..]), BitConverter.ToUInt64(b));
    }

    private static ulong DoubleBits(DiffRandom r) => r.Rng.Next(10) switch
    {
        < 5 => BitConverter.DoubleToUInt64Bits(r.Pick(Doubles)),
        5 => r.Pick(NaNs),
        6 => BitConverter.DoubleToUInt64Bits(r.Rng.Next(-1000, 1000) / (double)r.Pick(new[] { 1, 2, 4, 3, 7 })),
        7 => BitConverter.DoubleToUInt64Bits((r.Rng.NextDouble() - 0.5) * Math.Pow(2, r.Rng.Next(-1074, 1024))),
        _ => r.Next64(),
    };

    private static IEnumerable<DiffCase> Cases(string group, Func<DiffRandom, DiffCase, Action<Assembler>> build, int? count = null)
    {
        var r = new DiffRandom($"sse-{group}");
        for (int n = 0; n < (count ?? Count); n++)
        {
            var c = new DiffCase(group, _ => { }) { Rflags = r.Flags(), FlagsMask = ReferenceState.ArithmeticFlags };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            c.Gprs[4] = DiffLayout.StackTop;
            var emit = build(r, c);
            yield return AluDifferentialTests.Rebuild(c, emit, $"{group}: {CurrentForm}");
        }
    }
}
