namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// SSE3, SSSE3, SSE4.1 and SSE4.2 (Executor.Sse*.cs) against Unicorn in 64-bit mode, built like
/// <see cref="Sse2DifferentialTests"/>: every legacy form (the SSSE3 MMX forms included), register and memory
/// operands, edge lanes; floating-point forms under random MXCSR modes with MXCSR compared.
/// </summary>
public class Sse4DifferentialTests
{
    public static readonly string[] Integer =
    [
        // SSE3
        "Lddqu", "Movddup", "Movshdup", "Movsldup",
        // SSSE3
        "Pshufb", "Phaddw", "Phaddd", "Phaddsw", "Phsubw", "Phsubd", "Phsubsw", "Pmaddubsw", "Pmulhrsw",
        "Psignb", "Psignw", "Psignd", "Pabsb", "Pabsw", "Pabsd", "Palignr",
        // SSE4.1
        "Pblendw", "Blendps", "Blendpd", "Pblendvb", "Blendvps", "Blendvpd", "Pminsb", "Pminsd", "Pminuw", "Pminud",
        "Pmaxsb", "Pmaxsd", "Pmaxuw", "Pmaxud", "Pmovsxbw", "Pmovsxbd", "Pmovsxbq", "Pmovsxwd", "Pmovsxwq", "Pmovsxdq",
        "Pmovzxbw", "Pmovzxbd", "Pmovzxbq", "Pmovzxwd", "Pmovzxwq", "Pmovzxdq", "Pmulld", "Pmuldq", "Ptest", "Pcmpeqq",
        "Packusdw", "Pextrb", "Pextrd", "Pextrq", "Pinsrb", "Pinsrd", "Pinsrq", "Extractps", "Insertps", "Mpsadbw",
        "Phminposuw", "Movntdqa",
        // SSE4.2
        "Pcmpgtq", "Crc32", "Pcmpestri", "Pcmpestri64", "Pcmpestrm", "Pcmpestrm64", "Pcmpistri", "Pcmpistrm",
    ];

    public static readonly string[] Float = ["Addsubps", "Addsubpd", "Haddps", "Haddpd", "Hsubps", "Hsubpd", "Roundps", "Roundpd", "Roundss", "Roundsd", "Dpps", "Dppd"];

    public static IEnumerable<object[]> IntegerData => Integer.Select(m => new object[] { m });
    public static IEnumerable<object[]> FloatData => Float.Select(m => new object[] { m });

    [Theory]
    [MemberData(nameof(IntegerData))]
    public void IntegerInstruction(string mnemonic) => Sse2DifferentialTests.Run(mnemonic, mxcsr: false);

    [Theory]
    [MemberData(nameof(FloatData))]
    public void FloatInstruction(string mnemonic) => Sse2DifferentialTests.Run(mnemonic, mxcsr: true);
}
