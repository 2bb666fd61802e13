namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The rest of SSE/SSE2 and the MMX-register forms (Executor.Sse*.cs, Executor.Mmx.cs) against Unicorn in
/// 64-bit mode, built like <see cref="SseDifferentialTests"/>: every legacy form of each mnemonic (MMX forms
/// included), register and memory operands, edge lanes and NaNs; floating-point forms also run under a
/// random MXCSR rounding mode, DAZ and FTZ, and MXCSR (flags included) is stored and compared.
/// </summary>
public class Sse2DifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(60);

    public static readonly string[] Integer =
    [
        "Paddb", "Paddw", "Paddd", "Paddq", "Psubb", "Psubw", "Psubd", "Psubq", "Paddsb", "Paddsw", "Paddusb", "Paddusw",
        "Psubsb", "Psubsw", "Psubusb", "Psubusw", "Pcmpeqb", "Pcmpeqw", "Pcmpeqd", "Pcmpgtb", "Pcmpgtw", "Pcmpgtd",
        "Pminub", "Pmaxub", "Pminsw", "Pmaxsw", "Pmullw", "Pmulhw", "Pmulhuw", "Pmuludq", "Pmaddwd", "Psadbw", "Pavgb", "Pavgw",
        "Packsswb", "Packssdw", "Packuswb", "Punpcklbw", "Punpcklwd", "Punpckldq", "Punpckhbw", "Punpckhwd", "Punpckhdq",
        "Punpcklqdq", "Punpckhqdq", "Pand", "Pandn", "Por", "Pxor", "Psllw", "Pslld", "Psllq", "Psrlw", "Psrld", "Psrlq",
        "Psraw", "Psrad", "Pslldq", "Psrldq", "Pshufd", "Pshuflw", "Pshufhw", "Pshufw", "Pinsrw", "Pextrw", "Pmovmskb",
        "Movd", "Movq", "Movq2dq", "Movdq2q", "Movntq", "Movntdq", "Movnti", "Maskmovq", "Maskmovdqu",
    ];

    public static readonly string[] Float =
    [
        "Addps", "Addpd", "Addss", "Addsd", "Subps", "Subpd", "Subss", "Subsd", "Mulps", "Mulpd", "Mulss", "Mulsd",
        "Divps", "Divpd", "Divss", "Divsd", "Sqrtps", "Sqrtpd", "Sqrtss", "Sqrtsd", "Minps", "Minpd", "Minss", "Minsd",
        "Maxps", "Maxpd", "Maxss", "Maxsd", "Cmpps", "Cmppd", "Cmpss", "Cmpsd", "Comiss", "Ucomiss", "Comisd", "Ucomisd",
        "Cvtsi2ss", "Cvtsi2sd", "Cvtss2si", "Cvtsd2si", "Cvttss2si", "Cvttsd2si", "Cvtss2sd", "Cvtsd2ss", "Cvtps2pd", "Cvtpd2ps",
        "Cvtdq2ps", "Cvtdq2pd", "Cvtps2dq", "Cvttps2dq", "Cvtpd2dq", "Cvttpd2dq", "Cvtpi2ps", "Cvtpi2pd", "Cvtps2pi", "Cvttps2pi",
        "Cvtpd2pi", "Cvttpd2pi", "Shufps", "Shufpd", "Unpcklps", "Unpckhps", "Unpcklpd", "Unpckhpd", "Movmskps", "Movmskpd",
        "Movhps", "Movlps", "Movhpd", "Movlpd", "Movhlps", "Movlhps", "Movntps", "Movntpd", "Andps", "Andnps", "Orps", "Xorps",
    ];

    public static IEnumerable<object[]> IntegerData => Integer.Select(m => new object[] { m });
    public static IEnumerable<object[]> FloatData => Float.Select(m => new object[] { m });

    [Theory]
    [MemberData(nameof(IntegerData))]
    public void IntegerInstruction(string mnemonic) => Run(mnemonic, mxcsr: false);

    [Theory]
    [MemberData(nameof(FloatData))]
    public void FloatInstruction(string mnemonic) => Run(mnemonic, mxcsr: true);

    internal static void Run(string mnemonic, bool mxcsr, int? count = null)
    {
        var forms = SseDifferentialTests.FormsOf(mnemonic, mmx: true);
        Assert.NotEmpty(forms);
        DifferentialHarness.Verify(DiffMode.Long64, SseDifferentialTests.Cases(mnemonic, (r, c) => SseDifferentialTests.Build(r, c, r.Pick(forms), mxcsr), count ?? Count));
    }
}
