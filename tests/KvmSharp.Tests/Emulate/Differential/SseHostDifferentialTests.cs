using Iced.Intel;
using KvmSharp.Tests.Reference;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// SSE floating point against the host processor (<see cref="HostSse"/>), where Unicorn cannot serve: the
/// MXCSR exception flags after every operation, FTZ and DAZ, under every rounding mode (all exceptions
/// masked). Register forms "op xmm0, xmm1[, imm8]" with edge values (NaNs, ±0, ±∞, denormals, extremes).
/// RCPPS/RSQRTPS are left out: their bits are the implementation's (SDM "RCPPS").
/// </summary>
public class SseHostDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(150);
    private const ulong In = DiffLayout.Data + 0x100, Out = DiffLayout.Data + 0x200;

    public static readonly string[] Mnemonics =
    [
        "Addps", "Addpd", "Addss", "Addsd", "Subps", "Subpd", "Subss", "Subsd", "Mulps", "Mulpd", "Mulss", "Mulsd",
        "Divps", "Divpd", "Divss", "Divsd", "Sqrtps", "Sqrtpd", "Sqrtss", "Sqrtsd", "Minps", "Minpd", "Minss", "Minsd",
        "Maxps", "Maxpd", "Maxss", "Maxsd", "Cmpps", "Cmppd", "Cmpss", "Cmpsd", "Cvtss2sd", "Cvtsd2ss", "Cvtps2pd",
        "Cvtpd2ps", "Cvtdq2ps", "Cvtps2dq", "Cvttps2dq", "Cvtpd2dq", "Cvttpd2dq", "Cvtdq2pd",
        "Addsubps", "Addsubpd", "Haddps", "Haddpd", "Hsubps", "Hsubpd", "Roundps", "Roundpd", "Roundss", "Roundsd", "Dpps", "Dppd",
    ];

    public static IEnumerable<object[]> MnemonicData => Mnemonics.Select(m => new object[] { m });

    [Theory]
    [MemberData(nameof(MnemonicData))]
    public void MatchesHost(string mnemonic)
    {
        Assert.True(HostSse.Available, "the host reference needs an x86-64-v2 (SSE4.1) host CPU");
        var code = Forms.Get(SseDifferentialTests.FormsOf(mnemonic).Single(f => f.Split('_')[2].StartsWith("xmmm", StringComparison.Ordinal)));
        var kind = SseDifferentialTests.FloatKindOf(code.ToString());
        bool immediate = code.ToString().EndsWith("imm8", StringComparison.Ordinal);
        var r = new DiffRandom($"sse-host-{mnemonic}");
        var failures = new List<string>();
        using var harness = new DifferentialHarness();
        for (int n = 0; n < Count; n++)
        {
            UInt128 a = SseDifferentialTests.XmmValue(r, kind), b = SseDifferentialTests.XmmValue(r, kind);
            if (r.Chance(15)) b = a;
            uint mxcsr = 0x1F80 | (uint)r.Rng.Next(4) << 13 | (r.Chance(25) ? 0x40u : 0) | (r.Chance(25) ? 0x8000u : 0);
            int imm = mnemonic.StartsWith("Cmp", StringComparison.Ordinal) ? r.Rng.Next(8) : r.Rng.Next(256);
            object[] operands = immediate ? [Register.XMM0, Register.XMM1, imm] : [Register.XMM0, Register.XMM1];
            var (hostXmm, hostMxcsr) = HostSse.Run(asm => Forms.Emit(asm, code, operands), a, b, mxcsr);

            var c = new DiffCase(mnemonic, asm =>
            {
                asm.ldmxcsr(__dword_ptr[(long)In]);
                Forms.Emit(asm, code, operands);
                asm.stmxcsr(__dword_ptr[(long)Out]);
            });
            c.Gprs[4] = DiffLayout.StackTop;
            c.Xmm[0] = a;
            c.Xmm[1] = b;
            c.WithMemory(In, mxcsr, 4);
            var (outcome, state) = harness.RunOurs(c);
            uint ours = BitConverter.ToUInt32(state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes, (int)(Out - DiffLayout.Data));
            if (outcome != DiffOutcome.Halted || state.Xmm[0] != hostXmm || ours != hostMxcsr)
                failures.Add($"{code} imm {(immediate ? imm : "-")} MXCSR {mxcsr:X4} xmm0={a:X32} xmm1={b:X32}: host {hostXmm:X32} MXCSR {hostMxcsr:X4}, ours {outcome} {state.Xmm[0]:X32} MXCSR {ours:X4}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {Count} differ from the host:\n" + string.Join("\n", failures.Take(10)));
    }
}
