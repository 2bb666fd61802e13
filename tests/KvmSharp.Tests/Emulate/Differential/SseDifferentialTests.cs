using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using KvmSharp.Tests.Reference;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The first SSE/SSE2 group of our CPU (Executor.Sse*.cs) in 64-bit mode, and the case builder the other
/// SSE classes share (<see cref="Build"/>): every listed mnemonic in each of its legacy forms (Iced codes),
/// register and memory operands (aligned and misaligned: 128-bit forms other than MOVDQU/MOVUPS/MOVUPD/
/// LDDQU/PCMPxSTRx raise #GP on a misaligned operand, SDM vol 1 §11.6.6), XMM contents built from edge
/// lanes (0, all ones, 0x80 bytes, signed boundaries, ±0.0, NaNs, ±∞, huge, tiny and denormal values),
/// MXCSR loads and stores, FXSAVE/FXRSTOR, and #UD while CR4.OSFXSR is clear (SDM vol 3 §2.5).
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

    /// <summary>Every SSE–SSE4.2 mnemonic the SSE test classes cover that has an XMM form (not CRC32, MOVNTI, MMX-only ones).</summary>
    private static readonly Lazy<string[]> AllXmmMnemonics = new(() =>
        [.. Mnemonics.Concat(Sse2DifferentialTests.Integer).Concat(Sse2DifferentialTests.Float).Concat(Sse4DifferentialTests.Integer)
            .Concat(Sse4DifferentialTests.Float).Distinct().Where(m => m is not ("Crc32" or "Movnti") && FormsOf(m).Length > 0)]);

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
        else emit = Build(r, c, r.Pick(FormsOf(r.Pick(AllXmmMnemonics.Value))));
        c.SdmFault = 6;
        c.ReferenceFix = null;
        return emit;
    }, Math.Min(Count, 300)));

    /// <summary>Forms whose 128-bit memory operand may be misaligned (SDM vol 1 §11.6.6, "MOVDQU", "LDDQU", "PCMPESTRI", …).</summary>
    private static bool Unaligned(string form) =>
        form.Split('_')[0] is "Movdqu" or "Movups" or "Movupd" or "Lddqu" or "Pcmpestri" or "Pcmpestri64" or "Pcmpestrm" or "Pcmpestrm64" or "Pcmpistri" or "Pcmpistrm";

    /// <summary>The registers a memory operand's address uses, which later operands must leave alone.</summary>
    private static int[] Bases(Rm m) =>
        [.. new[] { m.Memory.Base, m.Memory.Index }.Where(x => x != Register.None).Select(x => (int)(x.GetFullRegister() - Register.RAX))];

    private static readonly Dictionary<string, string[]> FormCache = [];

    [ThreadStatic] private static string? CurrentForm;

    /// <summary>
    /// The legacy Iced codes of a mnemonic: operands are xmm, xmmmNN, rmNN, rNN, mNN, rNNmMM or imm8, and with
    /// <paramref name="mmx"/> also mm and mmmNN (the MMX-register forms).
    /// </summary>
    internal static string[] FormsOf(string mnemonic, bool mmx = false)
    {
        lock (FormCache)
        {
            string key = mmx ? mnemonic + "+mmx" : mnemonic;
            if (FormCache.TryGetValue(key, out var cached)) return cached;
            var all = Enum.GetNames<Code>().Where(n => n.StartsWith(mnemonic + "_", StringComparison.Ordinal)).ToArray();
            // MOVNTI and CRC32 have general-register operands only.
            var forms = all
                .Where(n => n.Split('_').Skip(1).Any(t => t.StartsWith("xmm", StringComparison.Ordinal) || (mmx && t.StartsWith("mm", StringComparison.Ordinal)))
                    || mnemonic is "Movnti" or "Crc32")
                .Where(n => !n.Split('_').Skip(1).Any(t => (!mmx && t.StartsWith("mm", StringComparison.Ordinal)) || t.StartsWith("k", StringComparison.Ordinal)))
                .ToArray();
            return FormCache[key] = forms;
        }
    }

    /// <summary>Where MMX operands are loaded from and stored to, and where MXCSR is loaded and stored (compared with the data region).</summary>
    private const ulong MmxIn = DiffLayout.Data + 0x3E00, MmxOut = DiffLayout.Data + 0x3E80, MxcsrIn = DiffLayout.Data + 0x3F00, MxcsrOut = DiffLayout.Data + 0x3F08;

    /// <summary>
    /// One case of <paramref name="form"/>: random XMM contents (floating-point edge values for the ps/pd/ss/sd
    /// forms), each MMX operand loaded with MOVQ before and stored after (the harness compares memory, not MMX
    /// registers), and with <paramref name="mxcsr"/> a random rounding mode, DAZ and FTZ loaded before and
    /// MXCSR stored after (its exception flags cleared: Unicorn does not set them, see SseMxcsrTests).
    /// </summary>
    internal static Action<Assembler> Build(DiffRandom r, DiffCase c, string form, bool mxcsr = false)
    {
        var code = Forms.Get(form);
        CurrentForm = form;
        var tokens = form.Split('_').Skip(1).ToArray();
        bool memory = r.Chance(35);
        string name = form.Split('_')[0];
        var kind = FloatKindOf(form);
        uint control = 0x1F80 | (uint)r.Rng.Next(4) << 13 | (r.Chance(25) ? 0x40u : 0) | (r.Chance(25) ? 0x8000u : 0);
        // QEMU 5 ignores FTZ, which for DPPS/DPPD also changes the sum of a flushed product: no FTZ there.
        if (name is "Dpps" or "Dppd") control &= ~0x8000u;
        bool loadMxcsr = mxcsr && r.Chance(70);
        uint mxcsrFlags = loadMxcsr ? control : 0x1F80;
        for (int x = 0; x < 16; x++) c.Xmm[x] = XmmValue(r, kind);
        if (name is "Dpps" or "Dppd")
            for (int x = 0; x < 16; x++) c.Xmm[x] = WithoutNaNs(c.Xmm[x], kind == FloatKind.Single);
        if (name is "Ucomisd" or "Comisd" or "Ucomiss" or "Comiss" or "Cmpps" or "Cmppd" or "Cmpss" or "Cmpsd" or "Minps" or "Maxps" or "Minpd" or "Maxpd")
        {
            // Equal operands now and then, so ZF=1/CF=0 and the equal predicates come up.
            if (r.Chance(20)) c.Xmm[r.Rng.Next(16)] = c.Xmm[r.Rng.Next(16)];
        }
        var operands = new List<object>();
        var mmx = new List<int>();
        // Explicit string lengths for PCMPESTR* in RAX and RDX: mostly within a vector, sometimes negative or huge.
        bool lengths = name.StartsWith("Pcmpestr", StringComparison.Ordinal);
        if (lengths)
            foreach (int g in new[] { 0, 2 })
                c.Gprs[g] = r.Chance(80) ? (ulong)(r.Rng.Next(-18, 18)) : r.Next64();
        int[] Reserved() => lengths ? [.. Bases(operands), 0, 2] : Bases(operands);
        foreach (var t in tokens)
        {
            switch (t)
            {
                case "xmm":
                {
                    // QEMU 5's PHADD*/PHSUB* read a source that is also the destination after writing it
                    // (Reference/README.md): those forms get two different registers.
                    int n = r.Rng.Next(16);
                    while (name.StartsWith("Ph", StringComparison.Ordinal) && operands.Count > 0 && operands[0] is Register d0 && d0 == Register.XMM0 + n) n = r.Rng.Next(16);
                    operands.Add(Register.XMM0 + n);
                    break;
                }
                case "mm":
                {
                    int n = r.Rng.Next(8);
                    if (!mmx.Contains(n)) mmx.Add(n);
                    operands.Add(Register.MM0 + n);
                    break;
                }
                case "rDI":
                {
                    // MASKMOVQ/MASKMOVDQU store through DS:rDI: point it into the data region.
                    c.Gprs[7] = DiffLayout.Data + (ulong)r.Rng.Next(0x100, 0x1000);
                    break;
                }
                case "xmmm128" or "xmmm64" or "xmmm32" or "xmmm16" or "mmm64" or "mmm32" or "rm8" or "rm16" or "rm32" or "rm64"
                    or "m32" or "m64" or "m128" or "r32m8" or "r64m8" or "r32m16" or "r64m16" or "r64m32":
                {
                    int size = t.EndsWith("128", StringComparison.Ordinal) ? 16 : t.EndsWith("64", StringComparison.Ordinal) ? 8
                        : t.EndsWith("32", StringComparison.Ordinal) ? 4 : t.EndsWith("16", StringComparison.Ordinal) ? 2 : 1;
                    bool isXmm = t.StartsWith("xmm", StringComparison.Ordinal), isMmx = t.StartsWith("mmm", StringComparison.Ordinal);
                    if (memory || t.StartsWith("m", StringComparison.Ordinal) && !isMmx)
                    {
                        var m = Forms.Memory(r, c, 64, size, Reserved());
                        var bytes = new byte[16];
                        var v = kind != FloatKind.None || isXmm || isMmx ? XmmValue(r, kind) : r.Register(Math.Min(size, 8));
                        if (name is "Dpps" or "Dppd") v = WithoutNaNs(v, kind == FloatKind.Single);
                        BitConverter.TryWriteBytes(bytes, (ulong)v);
                        BitConverter.TryWriteBytes(bytes.AsSpan(8), (ulong)(v >> 64));
                        c.Memory.Add((m.Address, bytes[..size]));
                        // Unicorn (QEMU 5) never checks SSE alignment: the SDM's #GP is asserted instead (Reference/README.md).
                        if (size == 16 && (m.Address & 15) != 0 && !Unaligned(form)) c.SdmFault = 13;
                        operands.Add(m.Memory);
                    }
                    else if (isXmm)
                    {
                        int n = r.Rng.Next(16);
                        while (name.StartsWith("Ph", StringComparison.Ordinal) && operands[0] is Register d0 && d0 == Register.XMM0 + n) n = r.Rng.Next(16);
                        operands.Add(Register.XMM0 + n);
                    }
                    else if (isMmx)
                    {
                        // QEMU 5's MMX PHADD*/PHSUB* read a source that is also the destination after writing it
                        // (Reference/README.md): those forms get two different registers.
                        int n = r.Rng.Next(8);
                        while (name.StartsWith("Ph", StringComparison.Ordinal) && operands[0] is Register d0 && d0 == Register.MM0 + n) n = r.Rng.Next(8);
                        if (!mmx.Contains(n)) mmx.Add(n);
                        operands.Add(Register.MM0 + n);
                    }
                    else
                    {
                        int n = r.GprIndex(64, Bases(operands));
                        int registerSize = t.StartsWith("r64", StringComparison.Ordinal) ? 8 : t.StartsWith("r32", StringComparison.Ordinal) ? 4 : size;
                        c.Gprs[n] = r.Register(Math.Min(size, 8)) | (r.Chance(50) ? r.Next64() << (8 * Math.Min(size, 7)) : 0);
                        operands.Add(registerSize == 1 ? DiffRandom.Gpr(n, 1) : DiffRandom.Gpr(n, registerSize));
                    }
                    break;
                }
                case "r32" or "r64":
                    operands.Add(DiffRandom.Gpr(r.GprIndex(64, Bases(operands)), t == "r32" ? 4 : 8));
                    break;
                case "imm8" when name is "Dpps":
                    // QEMU 5 sums DPPS products left to right, the SDM pairwise ((p0+p1)+(p2+p3)): with lanes 2 and 3
                    // not both selected the two orders round alike (Reference/README.md).
                    operands.Add(r.Rng.Next(256) & (r.Chance(50) ? 0xBF : 0x7F));
                    break;
                case "imm8":
                    // CMPPS/CMPPD/CMPSS/CMPSD: the legacy forms define predicates 0–7 only (QEMU 5 raises #UD above).
                    operands.Add(name.StartsWith("Cmp", StringComparison.Ordinal) ? r.Rng.Next(8)
                        : r.Chance(50) ? DiffRandom.ShiftCounts[r.Rng.Next(DiffRandom.ShiftCounts.Length)] : r.Rng.Next(256));
                    break;
                default:
                    throw new ArgumentException($"{form}: operand {t}");
            }
        }
        // Shift counts from a register or memory: small counts most of the time, so lanes are not just cleared.
        if (name is "Psllw" or "Pslld" or "Psllq" or "Psrlw" or "Psrld" or "Psrlq" or "Psraw" or "Psrad"
            && (form.EndsWith("xmmm128", StringComparison.Ordinal) || form.EndsWith("mmm64", StringComparison.Ordinal)) && r.Chance(70))
        {
            ulong count = r.Chance(80) ? (ulong)r.Rng.Next(70) : r.Pick(new ulong[] { 1UL << 32, 1UL << 63, ulong.MaxValue, 0x100 });
            if (operands[1] is Register s && s.IsXMM()) c.Xmm[s - Register.XMM0] = new UInt128((ulong)(c.Xmm[s - Register.XMM0] >> 64), count);
            else if (operands[1] is Register) mmxCount = count;
            else
            {
                var (address, bytes) = c.Memory[^1];
                BitConverter.TryWriteBytes(bytes, count);
                c.Memory[^1] = (address, bytes);
            }
        }

        var ops = operands.ToArray();
        if (operands[0] is Register d && d.IsXMM() && kind != FloatKind.None)
        {
            var initial = c.Xmm[d - Register.XMM0];
            UInt128 source = operands[1] is Register s3 && s3.IsXMM() ? c.Xmm[s3 - Register.XMM0]
                : operands[1] is MemoryOperand ? Load(c.Memory[^1].Bytes) : 0;
            c.ReferenceFix = UnicornFloatFix(name, d - Register.XMM0, initial, source, kind == FloatKind.Single, mxcsrFlags);
        }
        if (name.StartsWith("Pcmp", StringComparison.Ordinal) && name.Contains("str", StringComparison.Ordinal) && ((int)ops[^1] & 0xC) == 0xC)
        {
            UInt128 haystack = operands[1] is Register h ? c.Xmm[h - Register.XMM0] : Load(c.Memory[^1].Bytes);
            c.ReferenceFix = EqualOrderedFix(name, (int)ops[^1], c.Xmm[(Register)operands[0] - Register.XMM0], haystack, c.Gprs[0], c.Gprs[2]);
        }
        var loads = mmx.Select(n => (n, value: (ulong)XmmValue(r, kind))).ToArray();
        foreach (var (n, value) in loads) c.WithMemory(MmxIn + 8 * (ulong)n, ops[1] is Register m1 && m1 == Register.MM0 + n && mmxCount is { } k ? k : value, 8);
        mmxCount = null;
        if (loadMxcsr) c.WithMemory(MxcsrIn, control, 4);
        if (name is "Maskmovq" or "Maskmovdqu")
        {
            // Iced builds these with their implicit DS:rDI operand from the two registers.
            var (data, mask) = ((Register)operands[0], (Register)operands[1]);
            var maskStore = name == "Maskmovq" ? Iced.Intel.Instruction.CreateMaskmovq(64, data, mask, Register.None) : Iced.Intel.Instruction.CreateMaskmovdqu(64, data, mask, Register.None);
            ops = [];
            code = Code.INVALID;
            emitOverride = maskStore;
        }
        // A case Unicorn cannot run expects the fault at its first instruction: the instruction alone.
        var single = emitOverride;
        emitOverride = null;
        void Emit(Assembler a)
        {
            if (single is { } instruction) a.AddInstruction(instruction);
            else Forms.Emit(a, code, ops);
        }
        if (c.SdmFault is not null) return Emit;
        return a =>
        {
            if (loadMxcsr) a.ldmxcsr(__dword_ptr[(long)MxcsrIn]);
            foreach (var (n, _) in loads) a.movq(new AssemblerRegisterMM(Register.MM0 + n), __qword_ptr[(long)(MmxIn + 8 * (ulong)n)]);
            Emit(a);
            foreach (var (n, _) in loads) a.movq(__qword_ptr[(long)(MmxOut + 8 * (ulong)n)], new AssemblerRegisterMM(Register.MM0 + n));
            if (mxcsr)
            {
                // Unicorn (QEMU 5) never sets MXCSR's exception flags: they are cleared on both sides before the
                // comparison (Reference/README.md); the rounding mode, DAZ and FTZ still act on every result.
                a.stmxcsr(__dword_ptr[(long)MxcsrOut]);
                a.and(__dword_ptr[(long)MxcsrOut], ~0x3F);
            }
        };
    }

    [ThreadStatic] private static ulong? mmxCount;

    /// <summary>
    /// QEMU 5's "equal ordered" PCMPxSTRx aggregation reports no partial match at the end of the second operand;
    /// the SDM's (vol 2 §4.1.4) compares each position j with the first operand's elements up to the vector's
    /// end, so a needle prefix ending the haystack matches. The SDM's index, mask, CF and OF replace Unicorn's.
    /// </summary>
    private static Action<ReferenceState> EqualOrderedFix(string name, int control, UInt128 first, UInt128 second, ulong rax, ulong rdx)
    {
        bool words = (control & 1) != 0, signed = (control & 2) != 0;
        int count = words ? 8 : 16;
        int Element(UInt128 v, int k) => words
            ? (signed ? (short)(ushort)(v >> (16 * k)) : (ushort)(v >> (16 * k)))
            : (signed ? (sbyte)(byte)(v >> (8 * k)) : (byte)(v >> (8 * k)));
        int Implicit(UInt128 v) { int n = 0; while (n < count && Element(v, n) != 0) n++; return n; }
        int Explicit(ulong register) => (int)Int128.Min(count, Int128.Abs(name.EndsWith("64", StringComparison.Ordinal) ? (long)register : (int)register));
        bool explicitLength = name.StartsWith("Pcmpestr", StringComparison.Ordinal);
        int firstLength = explicitLength ? Explicit(rax) : Implicit(first), secondLength = explicitLength ? Explicit(rdx) : Implicit(second);
        int result = 0;
        for (int j = 0; j < count; j++)
        {
            bool match = true;
            for (int i = 0; j + i < count && i < firstLength; i++)
                if (j + i >= secondLength || Element(first, i) != Element(second, j + i)) match = false;
            if (match) result |= 1 << j;
        }
        if (((control >> 4) & 3) == 1) result ^= (1 << count) - 1;
        if (((control >> 4) & 3) == 3) result ^= (1 << secondLength) - 1;
        return state =>
        {
            const ulong cf = 1, of = 1 << 11;
            state.Rflags = (state.Rflags & ~(cf | of)) | (result != 0 ? cf : 0) | ((result & 1) != 0 ? of : 0);
            if (name.Contains("stri", StringComparison.Ordinal))
                state.Gprs[1] = result == 0 ? (ulong)count : (control & 0x40) != 0 ? (ulong)(31 - int.LeadingZeroCount(result)) : (ulong)int.TrailingZeroCount(result);
            else if ((control & 0x40) == 0) state.Xmm[0] = (UInt128)(uint)result;
            else
            {
                UInt128 mask = 0;
                int size = words ? 16 : 8;
                for (int j = 0; j < count; j++) if ((result >> j & 1) != 0) mask |= (((UInt128)1 << size) - 1) << (j * size);
                state.Xmm[0] = mask;
            }
        };
    }

    private static UInt128 Load(byte[] bytes)
    {
        var padded = new byte[16];
        bytes.CopyTo(padded, 0);
        return new UInt128(BitConverter.ToUInt64(padded, 8), BitConverter.ToUInt64(padded, 0));
    }

    private static UInt128 WithoutNaNs(UInt128 value, bool single)
    {
        int width = single ? 32 : 64, lanes = 128 / width;
        for (int k = 0; k < lanes; k++)
        {
            ulong lane = (ulong)(value >> (k * width)) & (single ? 0xFFFF_FFFFUL : ulong.MaxValue);
            bool nan = single ? float.IsNaN(BitConverter.UInt32BitsToSingle((uint)lane)) : double.IsNaN(BitConverter.UInt64BitsToDouble(lane));
            if (nan) value ^= (UInt128)(single ? 0x4000_0000UL : 0x4000_0000_0000_0000UL) << (k * width);   // exponent no longer all ones
        }
        return value;
    }

    /// <summary>
    /// Where Unicorn (QEMU 5) is known to deviate from the SDM for a floating-point result, the SDM's lane
    /// (Reference/README.md): (1) when both operands of an arithmetic lane are NaNs it picks by the x87 rule, the
    /// SDM (vol 1 Table 4-7) returns the first source's NaN quieted; (2) it ignores MXCSR.FTZ (the flag is applied
    /// to the x87 status), so a denormal result under FTZ is the signed zero the SDM (vol 1 §10.2.3.3) returns;
    /// (3) MINPS/MAXPS under DAZ return a denormal operand unchanged where the SDM (§10.2.3.4) has it read as zero.
    /// </summary>
    private static Action<ReferenceState>? UnicornFloatFix(string name, int destination, UInt128 a, UInt128 b, bool single, uint mxcsr)
    {
        bool scalar = name.EndsWith("ss", StringComparison.Ordinal) || name.EndsWith("sd", StringComparison.Ordinal);
        bool arithmetic = name[..3] is "Add" or "Sub" or "Mul" or "Div";
        bool horizontal = name[..4] is "Hadd" or "Hsub";
        bool rounded = arithmetic || horizontal || name.StartsWith("Sqrt", StringComparison.Ordinal) || name is "Cvtpd2ps" or "Cvtsd2ss" or "Dpps" or "Dppd";
        bool minMax = name[..3] is "Min" or "Max";
        bool ftz = (mxcsr & 0x8000) != 0 && (mxcsr & 0x800) != 0, daz = (mxcsr & 0x40) != 0;
        // (4) DPPS/DPPD: QEMU 5 adds only the selected products, the SDM adds +0.0 for the others, so a −0 sum
        // is +0 except when rounding down (IEEE 754 §6.3).
        bool dotZero = name is "Dpps" or "Dppd" && ((mxcsr >> 13) & 3) != 1;
        if (!arithmetic && !horizontal && !(ftz && rounded) && !(daz && minMax) && !dotZero) return null;
        // CVTSD2SS/CVTPD2PS read doubles but write singles.
        if (name is "Cvtsd2ss" or "Cvtpd2ps") single = true;
        int width = single ? 32 : 64, lanes = scalar || name is "Cvtsd2ss" ? 1 : 128 / width;
        if (name is "Cvtpd2ps") lanes = 2;
        ulong laneMask = single ? 0xFFFF_FFFFUL : ulong.MaxValue, quiet = single ? 0x40_0000UL : 1UL << 51;
        ulong Lane(UInt128 v, int k) => (ulong)(v >> (k * width)) & laneMask;
        bool IsNaN(ulong x) => single ? float.IsNaN(BitConverter.UInt32BitsToSingle((uint)x)) : double.IsNaN(BitConverter.UInt64BitsToDouble(x));
        bool IsDenormal(ulong x) => single ? float.IsSubnormal(BitConverter.UInt32BitsToSingle((uint)x)) : double.IsSubnormal(BitConverter.UInt64BitsToDouble(x));
        ulong sign = single ? 0x8000_0000UL : 1UL << 63;
        return state =>
        {
            var value = state.Xmm[destination];
            for (int k = 0; k < lanes; k++)
            {
                ulong lane = Lane(value, k);
                (ulong first, ulong second) = horizontal
                    ? (k < lanes / 2 ? (Lane(a, 2 * k), Lane(a, 2 * k + 1)) : (Lane(b, 2 * k - lanes), Lane(b, 2 * k - lanes + 1)))
                    : (Lane(a, k), Lane(b, k));
                if ((arithmetic || horizontal) && IsNaN(first) && IsNaN(second)) lane = first | quiet;
                else if (ftz && rounded && IsDenormal(lane)) lane &= sign;
                else if (daz && minMax && IsDenormal(lane)) lane &= sign;
                if (dotZero && lane == sign) lane = 0;
                value = (value & ~((UInt128)laneMask << (k * width))) | ((UInt128)lane << (k * width));
            }
            state.Xmm[destination] = value;
        };
    }
    [ThreadStatic] private static Iced.Intel.Instruction? emitOverride;

    /// <summary>The registers the memory operands so far use for their addresses (later register operands avoid them).</summary>
    private static int[] Bases(List<object> operands) =>
        [.. operands.OfType<MemoryOperand>().SelectMany(m => new[] { m.Base, m.Index }).Where(x => x != Register.None && x.IsGPR()).Select(x => (int)(x.GetFullRegister() - Register.RAX))];

    internal enum FloatKind { None, Single, Double }

    internal static FloatKind FloatKindOf(string form)
    {
        string name = form.Split('_')[0].ToLowerInvariant();
        if (name.EndsWith("pd", StringComparison.Ordinal) || name.EndsWith("sd", StringComparison.Ordinal) || name.StartsWith("cvtpd", StringComparison.Ordinal)
            || name.StartsWith("cvttpd", StringComparison.Ordinal) || name.StartsWith("cvtsd", StringComparison.Ordinal) || name.StartsWith("cvttsd", StringComparison.Ordinal)
            || name is "ucomisd" or "comisd" or "movddup" or "dppd" or "haddpd" or "hsubpd" or "addsubpd")
            return name.StartsWith("cvtsi", StringComparison.Ordinal) || name.StartsWith("cvtpi", StringComparison.Ordinal) || name.StartsWith("cvtdq", StringComparison.Ordinal) ? FloatKind.None : FloatKind.Double;
        if (name.EndsWith("ps", StringComparison.Ordinal) || name.EndsWith("ss", StringComparison.Ordinal) || name.StartsWith("cvtps", StringComparison.Ordinal)
            || name.StartsWith("cvttps", StringComparison.Ordinal) || name.StartsWith("cvtss", StringComparison.Ordinal) || name.StartsWith("cvttss", StringComparison.Ordinal)
            || name is "ucomiss" or "comiss" or "dpps" or "haddps" or "hsubps" or "addsubps" or "rcpps" or "rsqrtps" or "rcpss" or "rsqrtss")
            return name is "pcmpgtq" || name.StartsWith("cvtsi", StringComparison.Ordinal) || name.StartsWith("cvtpi", StringComparison.Ordinal) || name.StartsWith("cvtdq", StringComparison.Ordinal) ? FloatKind.None : FloatKind.Single;
        return FloatKind.None;
    }

    /// <summary>An XMM value of edge lanes: bytes, words, dwords or qwords at their boundaries, or doubles.</summary>
    private static UInt128 XmmValue(DiffRandom r, bool doubles) => XmmValue(r, doubles ? FloatKind.Double : FloatKind.None);

    internal static UInt128 XmmValue(DiffRandom r, FloatKind kind)
    {
        int shape = kind != FloatKind.None ? (r.Chance(80) ? (kind == FloatKind.Double ? 4 : 7) : r.Rng.Next(6)) : r.Rng.Next(7);
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
            case 7:
                for (int k = 0; k < 4; k++) BitConverter.TryWriteBytes(b[(4 * k)..], SingleBits(r));
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

    private static readonly float[] Singles =
    [
        0f, -0f, 1f, -1f, 1.5f, -2.5f, 0.5f, 3f, 0.1f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue,
        float.Epsilon, -float.Epsilon, 1.17549435E-38f, 1e-40f, 1e30f, 2147483647f, 2147483648f, -2147483648f, -2147483904f, 16777217f, 0.49999997f,
    ];

    private static readonly uint[] SingleNaNs = [0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FC0_1234, 0x7FA0_0000, 0xFFFF_FFFF];

    private static uint SingleBits(DiffRandom r) => r.Rng.Next(10) switch
    {
        < 5 => BitConverter.SingleToUInt32Bits(r.Pick(Singles)),
        5 => r.Pick(SingleNaNs),
        6 => BitConverter.SingleToUInt32Bits(r.Rng.Next(-1000, 1000) / (float)r.Pick(new[] { 1, 2, 4, 3, 7 })),
        7 => BitConverter.SingleToUInt32Bits((float)((r.Rng.NextDouble() - 0.5) * Math.Pow(2, r.Rng.Next(-149, 128)))),
        _ => (uint)r.Next64(),
    };

    internal static IEnumerable<DiffCase> Cases(string group, Func<DiffRandom, DiffCase, Action<Assembler>> build, int? count = null)
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
